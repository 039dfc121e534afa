//! Where the reader of a snapshot gets its bytes: one whole buffer (a ZooKeeper file read
//! from disk) or a stored snapshot's chunks, read one after another so that a snapshot of
//! millions of znodes is never whole in memory while the tree is rebuilt from it.

use super::{adler32_combine, Cursor, ZkFileError};
use crate::jute::{Jute, JuteError};

/// Sequential jute reads with file offsets and the running checksum the seals need.
pub(crate) trait Source {
    /// Reads one value.
    fn read<T: Jute>(&mut self, what: &'static str) -> Result<T, ZkFileError>;
    /// Bytes left in the file.
    fn remaining(&mut self) -> usize;
    /// The file offset of the next byte.
    fn offset(&self) -> usize;
    /// Java's Adler32 of every byte before the next one.
    fn checksum_before(&self) -> i64;
}

impl Source for Cursor<'_> {
    fn read<T: Jute>(&mut self, what: &'static str) -> Result<T, ZkFileError> {
        Cursor::read(self, what)
    }

    fn remaining(&mut self) -> usize {
        Cursor::remaining(self)
    }

    fn offset(&self) -> usize {
        self.pos
    }

    fn checksum_before(&self) -> i64 {
        super::adler32(&self.buf[..self.pos])
    }
}

/// A file that arrives in chunks. Values may straddle chunks: a read that runs out of
/// bytes pulls the next chunk in and tries again, keeping only the unread tail.
pub(crate) struct ChunkSource<I> {
    chunks: I,
    buf: Vec<u8>,
    pos: usize,
    /// The file offset of `buf[0]`, and the Adler32 of the bytes before it.
    base: usize,
    adler_base: u32,
    total: usize,
}

impl<I: Iterator<Item = Result<Vec<u8>, String>>> ChunkSource<I> {
    /// Reads a file of `total` bytes from `chunks`.
    pub(crate) fn new(total: usize, chunks: I) -> ChunkSource<I> {
        ChunkSource {
            chunks,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            adler_base: 1,
            total,
        }
    }

    /// Appends the next chunk; false at the end of the file.
    fn refill(&mut self) -> Result<bool, ZkFileError> {
        let Some(next) = self.chunks.next() else {
            return Ok(false);
        };
        let next = next.map_err(ZkFileError::Invalid)?;
        let consumed = &self.buf[..self.pos];
        self.adler_base = adler32_combine(
            self.adler_base,
            adler2::adler32_slice(consumed),
            consumed.len() as u64,
        );
        self.base += self.pos;
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.buf.extend_from_slice(&next);
        Ok(true)
    }

    /// Reads whatever chunks are left, so that their source can check them all.
    pub(crate) fn drain(&mut self) -> Result<(), ZkFileError> {
        for c in self.chunks.by_ref() {
            c.map_err(ZkFileError::Invalid)?;
        }
        Ok(())
    }
}

impl<I: Iterator<Item = Result<Vec<u8>, String>>> Source for ChunkSource<I> {
    fn read<T: Jute>(&mut self, what: &'static str) -> Result<T, ZkFileError> {
        loop {
            let read = T::read(&self.buf[self.pos..]).map(|(rest, v)| (rest.len(), v));
            match read {
                Ok((left, v)) => {
                    self.pos = self.buf.len() - left;
                    return Ok(v);
                }
                // Short of bytes (a length beyond the buffer reads as BadLength): more
                // may be in the next chunk.
                Err(JuteError::Truncated | JuteError::BadLength(_)) if self.refill()? => {}
                Err(err) => {
                    return Err(ZkFileError::Malformed {
                        what,
                        offset: self.offset(),
                        err,
                    })
                }
            }
        }
    }

    fn remaining(&mut self) -> usize {
        self.total.saturating_sub(self.offset())
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn checksum_before(&self) -> i64 {
        let read = &self.buf[..self.pos];
        i64::from(adler32_combine(
            self.adler_base,
            adler2::adler32_slice(read),
            read.len() as u64,
        ))
    }
}
