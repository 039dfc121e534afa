//! `'connector' = 'socket'`: lines read from a TCP connection (Flink's socket source, what
//! `nc -lk` serves), made replayable by a spool.
//!
//! A TCP peer cannot be asked to send a line again, so a receiver thread appends every whole
//! line it gets to an append-only spool file, and the split follows the spool like a file
//! (`LineSplit`): its checkpointed position is the spool offset after its last whole line,
//! and a restore reads again from there. The split reads only what the receiver has
//! fsynced, so a committed position always points at lines on disk, even after a machine
//! crash (a `kill -9` alone would not lose page-cache writes). When the peer closes the
//! connection the receiver writes an end marker (`<spool>.eof`); the split ends after the
//! last spooled line, and a resumed job finding the marker does not connect again.
//!
//! Lines that were in flight (the killed process's socket buffer) when the job died are
//! lost: the peer took them as delivered. What was spooled is read exactly once.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::stream::lines::LineSplit;
use crate::stream::sql::TableDef;
use crate::stream::StreamError;

/// Longest line taken: a longer one closes the connection and fails the source.
const MAX_LINE: usize = 1 << 20;
/// The receiver writes and fsyncs what it has at least this often, or this much...
const FLUSH_EVERY: Duration = Duration::from_millis(20);
const FLUSH_BYTES: usize = 256 << 10;
/// ...and looks at its stop flag at least this often.
const POLL: Duration = Duration::from_millis(50);

/// A socket table's options.
#[derive(Clone, Debug)]
pub(crate) struct SocketSource {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// How long a connect is retried (the server may not listen yet); `'connect.timeout'`.
    pub(crate) connect_timeout: Duration,
}

impl SocketSource {
    /// `'hostname'`, `'port'` and `'connect.timeout'` (default 30 s) of a socket table.
    pub(crate) fn from_table(t: &TableDef) -> Result<SocketSource, StreamError> {
        let need = |key: &str| {
            t.option(key).ok_or_else(|| {
                StreamError::Usage(format!(
                    "table {}: the socket connector needs '{key}'",
                    t.name
                ))
            })
        };
        let host = need("hostname")?.to_string();
        let port = need("port")?;
        let port = port.trim().parse::<u16>().map_err(|_| {
            StreamError::Usage(format!("table {}: 'port' = '{port}' is not a port", t.name))
        })?;
        let timeout = t
            .duration_ms("connect.timeout")
            .map_err(|e| StreamError::Usage(format!("table {}: {e}", t.name)))?
            .unwrap_or(30_000);
        Ok(SocketSource {
            host,
            port,
            connect_timeout: Duration::from_millis(timeout),
        })
    }

    fn peer(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What the receiver thread tells the split.
#[derive(Default)]
struct Shared {
    /// Spool bytes written and fsynced: the split reads nothing past it.
    durable: AtomicU64,
    /// The end marker is written: nothing more comes.
    ended: AtomicBool,
    /// Set when the split is dropped.
    stop: AtomicBool,
    /// Why the receiver failed: reported after the lines spooled before it.
    error: Mutex<Option<String>>,
}

/// Empties a spool for a fresh run: an earlier run's lines and end marker go.
pub(crate) fn reset_spool(spool: &Path) -> Result<(), StreamError> {
    for p in [spool.to_path_buf(), eof_path(spool)] {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(StreamError::io(&p, e)),
            _ => {}
        }
    }
    Ok(())
}

/// The end marker of a spool.
pub(crate) fn eof_path(spool: &Path) -> PathBuf {
    let mut name = spool.as_os_str().to_owned();
    name.push(".eof");
    PathBuf::from(name)
}

/// The one split of a socket source.
pub(crate) struct SocketSplit {
    lines: LineSplit,
    shared: Arc<Shared>,
    receiver: Option<JoinHandle<()>>,
    peer: String,
}

impl SocketSplit {
    /// Opens the spool at `position` and, unless its end marker exists, starts the receiver.
    pub(crate) fn open(
        src: &SocketSource,
        spool: &Path,
        position: u64,
    ) -> Result<SocketSplit, StreamError> {
        if let Some(dir) = spool.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StreamError::io(dir, e))?;
        }
        let len = trim_to_whole_lines(spool)?;
        if position > len {
            return Err(StreamError::State(format!(
                "{}: the spool holds {len} bytes, the checkpoint is at {position}",
                spool.display()
            )));
        }
        let shared = Arc::new(Shared::default());
        shared.durable.store(len, Ordering::Release);
        let receiver = if eof_path(spool).exists() {
            shared.ended.store(true, Ordering::Release);
            None
        } else {
            let (src, path, sh) = (src.clone(), spool.to_path_buf(), shared.clone());
            let thread = std::thread::Builder::new()
                .name("stream-socket".into())
                .spawn(move || {
                    if let Err(e) = receiver::receive(&src, &path, len, &sh) {
                        if let Ok(mut slot) = sh.error.lock() {
                            *slot = Some(e);
                        }
                    }
                })
                .map_err(|e| StreamError::Source(format!("a receiver thread: {e}")))?;
            Some(thread)
        };
        let mut lines = LineSplit::open(spool, position, true)?;
        lines.set_limit(len);
        Ok(SocketSplit {
            lines,
            shared,
            receiver,
            peer: src.peer(),
        })
    }

    /// Gives up to `max` spooled lines as bytes with their spool offset: `Some(0)` when
    /// nothing new is spooled yet, `None` after the last line once the peer has closed.
    pub(crate) fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(&[u8], u64) -> Result<(), StreamError>,
    ) -> Result<Option<usize>, StreamError> {
        // The end and an error before `durable`: the receiver sets them after its last
        // bytes are durable, so the lines before them are all read first.
        let failed = self.shared.error.lock().ok().and_then(|e| e.clone());
        let ended = self.shared.ended.load(Ordering::Acquire);
        self.lines
            .set_limit(self.shared.durable.load(Ordering::Acquire));
        let got = self.lines.read_bytes(max, &mut |l, _, at| give(l, at))?;
        if got == Some(0) {
            if let Some(e) = failed {
                return Err(StreamError::Source(format!("socket {}: {e}", self.peer)));
            }
            if ended {
                return Ok(None);
            }
        }
        Ok(got)
    }

    pub(crate) fn position(&self) -> u64 {
        self.lines.position()
    }
}

impl Drop for SocketSplit {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.receiver.take() {
            let _ = t.join();
        }
    }
}

/// Creates the spool if missing and cuts a torn last line (a crash during an append); the
/// length after that. A checkpoint never points past a whole line, so nothing read is cut.
fn trim_to_whole_lines(spool: &Path) -> Result<u64, StreamError> {
    let io = |e| StreamError::io(spool, e);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(spool)
        .map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len == 0 {
        // A new spool's name must survive a machine crash too: fsync its directory.
        if let Some(dir) = spool.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| StreamError::io(dir, e))?;
        }
    }
    let mut end = len;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let from = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - from) as usize];
        f.seek(SeekFrom::Start(from)).map_err(io)?;
        f.read_exact(chunk).map_err(io)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            end = from + i as u64 + 1;
            break;
        }
        end = from;
    }
    if end < len {
        f.set_len(end).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    Ok(end)
}

#[path = "socket_receiver.rs"]
mod receiver;

#[cfg(test)]
#[path = "socket_tests.rs"]
mod tests;
