//! The writer task of a TLS connection. A plaintext connection's core writes replies
//! straight into the socket; rustls encrypts through `&mut` state, so here every frame
//! goes through this task, gathered into few records.

use std::net::SocketAddr;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::server::conn::gather;
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
        let Some(m) = first else {
            break;
        };
        let (_, close) = gather(m, &mut rx, &mut buf, WRITE_BUF);
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
