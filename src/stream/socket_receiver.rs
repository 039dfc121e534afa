//! The receiver thread of a socket source: connects, and appends every whole line it gets
//! to the spool, fsynced before the split may read it (see `socket.rs`).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{eof_path, Shared, SocketSource, FLUSH_BYTES, FLUSH_EVERY, MAX_LINE, POLL};

/// Connects, retrying until `connect_timeout` (the server may start after the job);
/// `None` when stopped first.
fn connect(src: &SocketSource, stop: &AtomicBool) -> Result<Option<TcpStream>, String> {
    let deadline = Instant::now() + src.connect_timeout;
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        let why = match (src.host.as_str(), src.port).to_socket_addrs() {
            Ok(addrs) => {
                let mut why = "no address".to_string();
                for a in addrs {
                    match TcpStream::connect_timeout(&a, Duration::from_secs(1)) {
                        Ok(s) => return Ok(Some(s)),
                        Err(e) => why = e.to_string(),
                    }
                }
                why
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "no connection within {} ms: {why}",
                src.connect_timeout.as_millis()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The append side of the spool: whole lines, fsynced before the split may read them.
struct Appender<'a> {
    file: File,
    path: &'a Path,
    len: u64,
    pending: Vec<u8>,
    since: Instant,
    shared: &'a Shared,
}

impl Appender<'_> {
    fn flush(&mut self) -> Result<(), String> {
        self.since = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        self.file.write_all(&self.pending).map_err(fail)?;
        self.file.sync_data().map_err(fail)?;
        self.len += self.pending.len() as u64;
        self.pending.clear();
        self.shared.durable.store(self.len, Ordering::Release);
        Ok(())
    }
}

/// The receiver: connects and spools whole lines until the peer closes (then the end
/// marker), the split is dropped, or an error (kept for the split to report).
pub(super) fn receive(
    src: &SocketSource,
    spool: &Path,
    len: u64,
    shared: &Shared,
) -> Result<(), String> {
    let Some(mut conn) = connect(src, &shared.stop)? else {
        return Ok(());
    };
    conn.set_read_timeout(Some(POLL))
        .map_err(|e| e.to_string())?;
    let file = OpenOptions::new()
        .append(true)
        .open(spool)
        .map_err(|e| format!("{}: {e}", spool.display()))?;
    let mut out = Appender {
        file,
        path: spool,
        len,
        pending: Vec::new(),
        since: Instant::now(),
        shared,
    };
    // The bytes of a line whose newline has not come yet.
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return out.flush();
        }
        match conn.read(&mut buf) {
            Ok(0) => {
                // The peer closed: its last line counts even without a newline.
                if !carry.is_empty() {
                    out.pending.append(&mut carry);
                    out.pending.push(b'\n');
                }
                out.flush()?;
                let eof = eof_path(spool);
                File::create(&eof)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| format!("{}: {e}", eof.display()))?;
                shared.ended.store(true, Ordering::Release);
                return Ok(());
            }
            Ok(n) => {
                let data = &buf[..n];
                let head = data.iter().position(|b| *b == b'\n').unwrap_or(n);
                if carry.len() + head > MAX_LINE {
                    out.flush()?;
                    return Err(format!(
                        "a line longer than {MAX_LINE} bytes at spool offset {} (connection closed)",
                        out.len
                    ));
                }
                match data.iter().rposition(|b| *b == b'\n') {
                    Some(last) => {
                        out.pending.append(&mut carry);
                        out.pending.extend_from_slice(&data[..=last]);
                        carry.extend_from_slice(&data[last + 1..]);
                    }
                    None => carry.extend_from_slice(data),
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                out.flush()?;
                return Err(format!("connection lost: {e}"));
            }
        }
        if out.pending.len() >= FLUSH_BYTES || out.since.elapsed() >= FLUSH_EVERY {
            out.flush()?;
        }
    }
}
