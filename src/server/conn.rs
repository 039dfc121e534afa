//! One client connection: a reader that frames and decodes requests for the core, and an
//! outlet through which the core sends replies. The core writes a batch's frames straight
//! into the socket when it takes them; a writer task sends whatever it could not take.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWriteExt, WriteHalf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jute::Jute;
use crate::proto::{ConnectRequest, Id, Request, RequestHeader};
use crate::server::core::{CoreMsg, Input, Out};
use crate::server::fourlw;
use crate::server::frame::{ClientCodec, FrameError, InFrame};
use crate::watch::ConnId;

/// Frames a connection may have queued before it counts as not reading.
const OUT_QUEUE_FRAMES: usize = 100_000;
/// Bytes the writer task gathers into one socket write.
const WRITE_BUF: usize = 64 * 1024;
/// Frames per direct write (writev takes at most IOV_MAX, 1024 on Linux, slices).
const MAX_SLICES: usize = 64;

/// Serves one accepted plaintext connection until either side closes it.
pub async fn serve(
    stream: TcpStream,
    conn: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<CoreMsg>,
    cfg: Arc<Config>,
) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    serve_frames(rd, WriteSide::Plain(wr), conn, addr, core, cfg, Vec::new()).await;
}

/// Serves a connection whose TLS handshake is done; `ids` are the identities its
/// certificate gave it (`x509:`, maybe `super`).
pub(crate) async fn serve_tls(
    stream: TlsStream<TcpStream>,
    conn: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<CoreMsg>,
    cfg: Arc<Config>,
    ids: Vec<Id>,
) {
    let (rd, wr) = tokio::io::split(stream);
    serve_frames(rd, WriteSide::Tls(wr), conn, addr, core, cfg, ids).await;
}

/// Where a connection's output goes: a plaintext socket the core may write into itself,
/// or a TLS stream only its writer task writes (rustls needs `&mut` to encrypt).
enum WriteSide {
    Plain(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

impl WriteSide {
    /// Answers a four-letter word and closes.
    async fn answer(self, text: &[u8]) {
        match self {
            WriteSide::Plain(mut w) => {
                let _ = w.write_all(text).await;
                let _ = w.shutdown().await;
            }
            WriteSide::Tls(mut w) => {
                let _ = w.write_all(text).await;
                let _ = w.shutdown().await;
            }
        }
    }

    fn outlet(self, addr: SocketAddr) -> Outlet {
        match self {
            WriteSide::Plain(w) => Outlet::spawn(w, addr, OUT_QUEUE_FRAMES),
            WriteSide::Tls(w) => {
                let (tx, rx) = mpsc::channel(OUT_QUEUE_FRAMES);
                let stop = CancellationToken::new();
                tokio::spawn(crate::server::tls::writer::write_loop(
                    w,
                    addr,
                    rx,
                    stop.clone(),
                ));
                Outlet {
                    tx,
                    sock: None,
                    stop,
                }
            }
        }
    }
}

/// The connection loop: the ConnectRequest (or a four-letter word), then requests to the
/// core until either side closes.
async fn serve_frames<R: AsyncRead + Unpin>(
    rd: R,
    wr: WriteSide,
    conn: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<CoreMsg>,
    cfg: Arc<Config>,
    ids: Vec<Id>,
) {
    let mut frames = FramedRead::new(rd, ClientCodec::new(cfg.jute_max_buffer));
    let connect = match frames.next().await {
        Some(Ok(InFrame::FourLetter(word))) => {
            let text = fourlw::answer(&word, &cfg, &core, Some(addr)).await;
            wr.answer(text.as_bytes()).await;
            return;
        }
        Some(Ok(InFrame::Payload(p))) => match ConnectRequest::read(&p) {
            Ok((_, req)) => req,
            Err(e) => {
                tracing::warn!("closing connection from {addr}: bad ConnectRequest: {e}");
                return;
            }
        },
        Some(Err(e)) => {
            log_frame_error(addr, &e);
            return;
        }
        None => return,
    };
    let out = wr.outlet(addr);
    let stop = out.stop.clone();
    let msg = CoreMsg::Connect {
        conn,
        req: connect,
        addr,
        out,
    };
    if core.send(msg).await.is_err() {
        return;
    }
    // Before any request of the connection, as ZooKeeper adds them right after the
    // handshake.
    if !ids.is_empty()
        && core
            .send(CoreMsg::Input(Input::AddAuthInfo { conn, ids }))
            .await
            .is_err()
    {
        return;
    }
    loop {
        let next = tokio::select! {
            f = frames.next() => f,
            _ = stop.cancelled() => break,
        };
        let payload = match next {
            Some(Ok(InFrame::Payload(p))) => p,
            Some(Ok(InFrame::FourLetter(_))) => break,
            Some(Err(e)) => {
                log_frame_error(addr, &e);
                break;
            }
            None => break,
        };
        let payload = payload.freeze();
        let (body, hdr) = match RequestHeader::read(&payload) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("closing connection from {addr}: bad request header: {e}");
                break;
            }
        };
        let req = Request::decode(hdr.r#type, body);
        let body = payload.slice_ref(body);
        let msg = CoreMsg::Input(Input::Request {
            conn,
            xid: hdr.xid,
            op: hdr.r#type,
            req,
            body,
        });
        if core.send(msg).await.is_err() {
            break;
        }
    }
    stop.cancel();
    let _ = core.send(CoreMsg::Input(Input::Closed { conn })).await;
}

/// Where the core sends a connection's output. Replies and notifications are written
/// straight into the socket by the core (no task wakeup per reply) as long as nothing
/// waits in the writer task's queue; what the socket does not take at once goes to the
/// writer task, and so does everything after it until the writer has sent it all, so no
/// frame ever overtakes an earlier one. The core never waits on the socket.
#[derive(Debug)]
pub struct Outlet {
    tx: mpsc::Sender<Out>,
    sock: Option<Arc<Socket>>,
    /// Ends the connection's reader and writer.
    stop: CancellationToken,
}

/// The write half shared by the core and the writer task.
#[derive(Debug)]
struct Socket {
    half: OwnedWriteHalf,
    addr: SocketAddr,
    /// Items handed to the writer task and not yet written by it. The core writes
    /// directly only while this is zero; the writer lowers it only once its bytes are in
    /// the socket, so a direct write never lands before them.
    queued: AtomicUsize,
}

/// Why an outlet took no more output; either way the connection is being closed.
#[derive(Debug, PartialEq, Eq)]
pub enum Gone {
    /// The writer's queue is full: the client is not reading its replies.
    Full,
    /// The connection is closed or broken.
    Closed,
}

impl Outlet {
    /// An outlet whose output all goes through `tx` (tests and fuzzing, no socket).
    pub fn channel(tx: mpsc::Sender<Out>) -> Outlet {
        Outlet {
            tx,
            sock: None,
            stop: CancellationToken::new(),
        }
    }

    /// An outlet writing to `wr`, with its writer task; at most `limit` items queue there.
    fn spawn(wr: OwnedWriteHalf, addr: SocketAddr, limit: usize) -> Outlet {
        let (tx, rx) = mpsc::channel(limit);
        let sock = Arc::new(Socket {
            half: wr,
            addr,
            queued: AtomicUsize::new(0),
        });
        let stop = CancellationToken::new();
        tokio::spawn(write_loop(sock.clone(), rx, stop.clone()));
        Outlet {
            tx,
            sock: Some(sock),
            stop,
        }
    }

    /// Sends a connection's frames of one batch, in order, then closes the connection
    /// when `close` (after everything sent before). Takes the frames out of `frames`.
    /// With `direct`, the caller's thread writes them to the socket itself when nothing
    /// is queued for the writer task (what the socket does not take goes to the task).
    pub fn send(&self, frames: &mut Vec<Bytes>, close: bool, direct: bool) -> Result<(), Gone> {
        if let (Some(s), true) = (&self.sock, direct) {
            if s.queued.load(Ordering::Acquire) == 0 {
                if let Err(e) = s.write_now(frames) {
                    tracing::debug!("connection from {} ended: {e}", s.addr);
                    return Err(Gone::Closed);
                }
            }
        }
        for f in frames.drain(..) {
            self.queue(Out::Frame(f))?;
        }
        if close {
            self.queue(Out::Close)?;
        }
        Ok(())
    }

    fn queue(&self, out: Out) -> Result<(), Gone> {
        if let Some(s) = &self.sock {
            // Raised before the writer can see the item, so it never goes below zero.
            s.queued.fetch_add(1, Ordering::Relaxed);
        }
        self.tx.try_send(out).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Gone::Full,
            mpsc::error::TrySendError::Closed(_) => Gone::Closed,
        })
    }

    /// Closes the connection now, dropping whatever is queued (a client that does not
    /// read would otherwise keep the writer waiting forever).
    pub fn abort(&self) {
        self.stop.cancel();
    }
}

impl Socket {
    /// Writes as much of `frames` as the socket takes without waiting, and leaves the
    /// rest in `frames` (the first one cut where the socket stopped taking bytes).
    fn write_now(&self, frames: &mut Vec<Bytes>) -> io::Result<()> {
        let mut done = 0;
        while done < frames.len() {
            let chunk = &frames[done..frames.len().min(done + MAX_SLICES)];
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            for (s, f) in slices.iter_mut().zip(chunk) {
                *s = IoSlice::new(f);
            }
            let want: usize = chunk.iter().map(Bytes::len).sum();
            let wrote = match self.half.try_write_vectored(&slices[..chunk.len()]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            let mut left = wrote;
            while left > 0 {
                let len = frames[done].len();
                if left < len {
                    frames[done] = frames[done].slice(left..);
                    break;
                }
                left -= len;
                done += 1;
            }
            if wrote < want {
                break;
            }
        }
        frames.drain(..done);
        Ok(())
    }

    /// Writes all of `buf`, waiting for the socket as needed (the writer task's way).
    async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            self.half.writable().await?;
            match self.half.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Gathers `first` and what else is queued into `buf`, up to about `limit` bytes or a
/// `Close`: how many messages it took, and whether the last was `Close`.
pub(crate) fn gather(
    first: Out,
    rx: &mut mpsc::Receiver<Out>,
    buf: &mut Vec<u8>,
    limit: usize,
) -> (usize, bool) {
    let mut m = first;
    let mut taken = 0;
    loop {
        taken += 1;
        match m {
            Out::Frame(b) => buf.extend_from_slice(&b),
            Out::Close => return (taken, true),
        }
        if buf.len() >= limit {
            return (taken, false);
        }
        match rx.try_recv() {
            Ok(next) => m = next,
            Err(_) => return (taken, false),
        }
    }
}

/// Sends what the core queued, gathering frames into few socket writes.
async fn write_loop(sock: Arc<Socket>, mut rx: mpsc::Receiver<Out>, stop: CancellationToken) {
    let mut buf = Vec::with_capacity(WRITE_BUF);
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = stop.cancelled() => None,
        };
        let Some(m) = first else {
            break;
        };
        let (taken, close) = gather(m, &mut rx, &mut buf, WRITE_BUF);
        // A connection being closed (its reader ended, or the core gave up on a client that
        // does not read) drops what is left, as ZooKeeper does.
        let sent = tokio::select! {
            r = sock.write_all(&buf) => r.is_ok(),
            _ = stop.cancelled() => false,
        };
        if !sent {
            break;
        }
        buf.clear();
        sock.queued.fetch_sub(taken, Ordering::Release);
        if close {
            break;
        }
    }
    stop.cancel();
    // The write side shuts down (FIN) when the last holder of the socket drops it: here,
    // or the core, which drops its own when it forgets the connection.
}

/// A bad frame is worth a warning; a client that vanished (reset, broken pipe) is routine.
fn log_frame_error(addr: SocketAddr, e: &FrameError) {
    match e {
        FrameError::Io(io) => tracing::debug!("connection from {addr} ended: {io}"),
        other => tracing::warn!("closing connection from {addr}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connected pair: the server's write half in an outlet, and the client's stream.
    async fn pair(limit: usize) -> (Outlet, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, addr) = l.accept().await.unwrap();
        // The stream lives on in the write half: dropping the read half closes nothing.
        let (_, wr) = server.into_split();
        (Outlet::spawn(wr, addr, limit), client)
    }

    fn numbered(i: u32) -> Bytes {
        let mut b = vec![0u8; 1024];
        b[..4].copy_from_slice(&i.to_be_bytes());
        Bytes::from(b)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn output_keeps_its_order_when_the_socket_fills() {
        let (out, mut client) = pair(OUT_QUEUE_FRAMES).await;
        let sock = out.sock.clone().unwrap();
        // Batches of 7 frames until the socket pushes back and the writer holds a backlog,
        // then as many more, which must queue behind it.
        let mut n = 0u32;
        let mut backlog_at = None;
        while backlog_at.is_none_or(|at| n < 2 * at) {
            let mut frames: Vec<Bytes> = (n..n + 7).map(numbered).collect();
            n += 7;
            out.send(&mut frames, false, true).unwrap();
            assert!(frames.is_empty());
            if backlog_at.is_none() && sock.queued.load(Ordering::Acquire) > 0 {
                backlog_at = Some(n);
            }
            assert!(n < 1_000_000, "the socket never pushed back");
        }
        out.send(&mut Vec::new(), true, true).unwrap();
        drop(sock);
        drop(out);
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.unwrap();
        assert_eq!(all.len(), n as usize * 1024);
        for (i, f) in all.chunks(1024).enumerate() {
            assert_eq!(u32::from_be_bytes([f[0], f[1], f[2], f[3]]), i as u32);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_does_not_read_fills_the_queue() {
        let (out, _client) = pair(16).await;
        let mut n = 0u32;
        let gone = loop {
            let mut frames = vec![numbered(n)];
            n += 1;
            if let Err(e) = out.send(&mut frames, false, true) {
                break e;
            }
            assert!(n < 1_000_000, "the queue never filled");
        };
        assert_eq!(gone, Gone::Full);
        out.abort();
    }
}
