//! A file read line by line as a source split: its position is the byte offset after the
//! last whole line read, so a restore seeks there and reads each line once. Followed
//! (`tail -f`), a line without its newline yet waits for the rest.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::stream::StreamError;

/// Longest line read: a longer one fails the source instead of growing memory.
const MAX_LINE: usize = 1 << 20;

pub(crate) struct LineSplit {
    path: PathBuf,
    reader: BufReader<File>,
    /// Offset after the last whole line given.
    position: u64,
    follow: bool,
    /// A line read without its newline yet (followed files only).
    partial: Vec<u8>,
    /// No byte at or after this offset is read.
    limit: u64,
}

impl LineSplit {
    pub(crate) fn open(path: &Path, position: u64, follow: bool) -> Result<LineSplit, StreamError> {
        let mut file = File::open(path).map_err(|e| StreamError::io(path, e))?;
        file.seek(SeekFrom::Start(position))
            .map_err(|e| StreamError::io(path, e))?;
        Ok(LineSplit {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(64 * 1024, file),
            position,
            follow,
            partial: Vec::new(),
            limit: u64::MAX,
        })
    }

    /// Gives up to `max` lines (without their line ending): `Some(n)` when it gave `n`
    /// (0: a followed file has nothing new), `None` at the end of an unfollowed file.
    pub(crate) fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(&str, &Path) -> Result<(), StreamError>,
    ) -> Result<Option<usize>, StreamError> {
        self.read_bytes(max, &mut |line, path, offset| {
            let text = std::str::from_utf8(line).map_err(|_| {
                StreamError::Source(format!(
                    "{}: the line at offset {offset} is not UTF-8",
                    path.display()
                ))
            })?;
            give(text, path)
        })
    }

    /// [`LineSplit::read`] giving each line's bytes and its offset, for a source that
    /// decides itself what a line that is not UTF-8 means.
    pub(crate) fn read_bytes(
        &mut self,
        max: usize,
        give: &mut impl FnMut(&[u8], &Path, u64) -> Result<(), StreamError>,
    ) -> Result<Option<usize>, StreamError> {
        let mut n = 0;
        while n < max {
            let room = (MAX_LINE + 1 - self.partial.len().min(MAX_LINE)) as u64;
            // Never past the limit: bytes after it may not be durable yet.
            let before = self.position + self.partial.len() as u64;
            let room = room.min(self.limit.saturating_sub(before));
            let got = (&mut self.reader)
                .take(room)
                .read_until(b'\n', &mut self.partial)
                .map_err(|e| StreamError::io(&self.path, e))?;
            let complete = self.partial.last() == Some(&b'\n');
            if !complete && self.partial.len() > MAX_LINE {
                return Err(StreamError::Source(format!(
                    "{}: a line at offset {} is longer than {MAX_LINE} bytes",
                    self.path.display(),
                    self.position
                )));
            }
            if got == 0 || !complete {
                // The end of what is there now.
                if self.follow || self.partial.is_empty() {
                    return Ok(if n == 0 && !self.follow {
                        None
                    } else {
                        Some(n)
                    });
                }
            }
            let len = self.partial.len() as u64;
            let mut line = &self.partial[..];
            while let Some((b'\n' | b'\r', rest)) = line.split_last() {
                line = rest;
            }
            if !line.is_empty() {
                give(line, &self.path, self.position)?;
            }
            self.position += len;
            self.partial.clear();
            n += 1;
        }
        Ok(Some(n))
    }

    /// Reads no byte at or after `end` (a followed file whose writer tells how far its
    /// content is durable); unlimited by default.
    pub(crate) fn set_limit(&mut self, end: u64) {
        self.limit = end;
    }

    pub(crate) fn position(&self) -> u64 {
        self.position
    }
}

/// The files of a `path` option: the file itself, or a directory's regular files (not
/// hidden) in name order, one split each.
pub(crate) fn list_files(path: &Path) -> Result<Vec<PathBuf>, StreamError> {
    let meta = std::fs::metadata(path).map_err(|e| StreamError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| StreamError::io(path, e))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(split: &mut LineSplit, max: usize) -> (Option<usize>, Vec<String>) {
        let mut got = Vec::new();
        let r = split
            .read(max, &mut |l, _| {
                got.push(l.to_string());
                Ok(())
            })
            .unwrap();
        (r, got)
    }

    #[test]
    fn reads_whole_lines_and_resumes_at_its_position() {
        let dir = std::env::temp_dir().join(format!("fk-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.log");
        std::fs::write(&f, "one\r\ntwo\n\nthree").unwrap();
        let mut s = LineSplit::open(&f, 0, false).unwrap();
        assert_eq!(lines(&mut s, 1), (Some(1), vec!["one".to_string()]));
        let pos = s.position();
        assert_eq!(pos, 5);
        let mut s = LineSplit::open(&f, pos, false).unwrap();
        assert_eq!(
            lines(&mut s, 10),
            (Some(3), vec!["two".to_string(), "three".to_string()])
        );
        assert_eq!(lines(&mut s, 10), (None, vec![]));
        // Followed: the unterminated last line waits for its newline.
        let mut t = LineSplit::open(&f, pos, true).unwrap();
        assert_eq!(lines(&mut t, 10), (Some(2), vec!["two".to_string()]));
        assert_eq!(lines(&mut t, 10), (Some(0), vec![]));
        use std::io::Write;
        let mut a = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
        a.write_all(b" more\nfour\n").unwrap();
        assert_eq!(
            lines(&mut t, 10),
            (Some(2), vec!["three more".to_string(), "four".to_string()])
        );
        assert_eq!(list_files(&dir).unwrap(), vec![f.clone()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
