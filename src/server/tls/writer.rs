//! The writer task of a TLS connection. A plaintext connection's core writes replies
//! straight into the socket; rustls encrypts through `&mut` state, so here every frame
//! goes through this task, gathered into few records.

use std::net::SocketAddr;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::server::core::Out;

/// Bytes gathered into one write (rustls cuts them into 16 KB records).
const WRITE_BUF: usize = 64 * 1024;

/// Sends what the core queued until the connection closes; `Close` sends TLS's
/// close_notify after what came before it. A stopped connection drops what is left.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    addr: SocketAddr,
    mut rx: mpsc::Receiver<Out>,
    stop: CancellationToken,
) {
    let mut buf = Vec::with_capacity(WRITE_BUF);
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = stop.cancelled() => None,
        };
        let Some(mut m) = first else {
            break;
        };
        let mut close = false;
        loop {
            match m {
                Out::Frame(b) => buf.extend_from_slice(&b),
                Out::Close => {
                    close = true;
                    break;
                }
            }
            if buf.len() >= WRITE_BUF {
                break;
            }
            match rx.try_recv() {
                Ok(next) => m = next,
                Err(_) => break,
            }
        }
        let sent = tokio::select! {
            r = async {
                wr.write_all(&buf).await?;
                wr.flush().await
            } => r,
            _ = stop.cancelled() => Ok(()),
        };
        if let Err(e) = sent {
            tracing::debug!("connection from {addr} ended: {e}");
            break;
        }
        if stop.is_cancelled() {
            break;
        }
        buf.clear();
        if close {
            let _ = wr.shutdown().await;
            break;
        }
    }
    stop.cancel();
}
