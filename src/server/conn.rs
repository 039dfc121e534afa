//! One client connection: a reader that frames and decodes requests for the core, and a
//! writer that sends what the core queued, batching frames into few socket writes.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jute::Jute;
use crate::proto::{ConnectRequest, Request, RequestHeader};
use crate::server::core::{CoreMsg, Out};
use crate::server::fourlw;
use crate::server::frame::{ClientCodec, FrameError, InFrame};
use crate::watch::ConnId;

/// Frames a connection may have queued before it counts as not reading.
const OUT_QUEUE_FRAMES: usize = 100_000;

/// Serves one accepted connection until either side closes it.
pub async fn serve(
    stream: TcpStream,
    conn: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<CoreMsg>,
    cfg: Arc<Config>,
) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut frames = FramedRead::new(rd, ClientCodec::new(cfg.jute_max_buffer));
    let connect = match frames.next().await {
        Some(Ok(InFrame::FourLetter(word))) => {
            let text = fourlw::answer(&word, &cfg, &core, Some(addr)).await;
            let mut wr = wr;
            let _ = wr.write_all(text.as_bytes()).await;
            let _ = wr.shutdown().await;
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
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE_FRAMES);
    let stop = CancellationToken::new();
    tokio::spawn(write_loop(wr, out_rx, stop.clone()));
    let msg = CoreMsg::Connect {
        conn,
        req: connect,
        addr,
        out: out_tx,
    };
    if core.send(msg).await.is_err() {
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
        let (body, hdr) = match RequestHeader::read(&payload) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("closing connection from {addr}: bad request header: {e}");
                break;
            }
        };
        let req = Request::decode(hdr.r#type, body);
        let msg = CoreMsg::Request {
            conn,
            xid: hdr.xid,
            op: hdr.r#type,
            req,
        };
        if core.send(msg).await.is_err() {
            break;
        }
    }
    stop.cancel();
    let _ = core.send(CoreMsg::Closed { conn }).await;
}

async fn write_loop(wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Out>, stop: CancellationToken) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    'outer: loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = stop.cancelled() => None,
        };
        let Some(mut m) = first else {
            break;
        };
        loop {
            match m {
                Out::Frame(b) => {
                    if w.write_all(&b).await.is_err() {
                        break 'outer;
                    }
                }
                Out::Close => break 'outer,
            }
            match rx.try_recv() {
                Ok(next) => m = next,
                Err(_) => break,
            }
        }
        if w.flush().await.is_err() {
            break;
        }
    }
    let _ = w.flush().await;
    let _ = w.shutdown().await;
    stop.cancel();
}

/// A bad frame is worth a warning; a client that vanished (reset, broken pipe) is routine.
fn log_frame_error(addr: SocketAddr, e: &FrameError) {
    match e {
        FrameError::Io(io) => tracing::debug!("connection from {addr} ended: {io}"),
        other => tracing::warn!("closing connection from {addr}: {other}"),
    }
}
