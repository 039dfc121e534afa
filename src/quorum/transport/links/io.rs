//! One link's tasks: the reader (packets → events) and the writer (queue → socket).
//!
//! The reader runs in the link's own task, which also reports `Opened` first and `Closed`
//! last; the writer is a second task. Whichever ends first cancels the link's token, which
//! stops the other, so a link closes as a whole: a peer that stops reading is dropped
//! even if it still writes, and one whose stream breaks is dropped even if we still have
//! packets for it.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use super::{LinkEvent, LinkHandle, LinkId, LinkLimits, LinkOut, Side, RAW_CHUNK};
use crate::proto::quorum::packet::{QuorumPacket, QuorumPacketCodec};
use crate::proto::quorum::packet_type as pt;
use crate::quorum::transport::snap::SnapScanner;
use crate::quorum::transport::tls::QuorumStream;

type OwnedReadHalf = ReadHalf<QuorumStream>;
type OwnedWriteHalf = WriteHalf<QuorumStream>;

/// How a reader or writer stopped.
enum End {
    /// The link's token fired: the other half (or the owner) ended the link first.
    Cancelled,
    /// This half ended the link, for this reason.
    Reason(String),
}

/// Starts the tasks of a connected `stream` and returns its handle. `permit` (the
/// listener's count of live links) is released once both tasks have ended.
pub(super) fn spawn_link(
    stream: QuorumStream,
    addr: SocketAddr,
    side: Side,
    limits: LinkLimits,
    events: mpsc::Sender<LinkEvent>,
    parent: &CancellationToken,
    permit: Option<OwnedSemaphorePermit>,
) -> LinkHandle {
    let id = LinkId::next();
    let cancel = parent.child_token();
    let (tx, rx) = mpsc::channel(limits.queue_capacity.max(1));
    let handle = LinkHandle {
        id,
        addr,
        tx,
        cancel: cancel.clone(),
    };
    let (rd, wr) = tokio::io::split(stream);
    let opened = LinkEvent::Opened {
        link: id,
        addr,
        handle: handle.clone(),
    };
    tokio::spawn(async move {
        // Before the writer starts, so that nothing of this link precedes Opened.
        let writer = if events.send(opened).await.is_ok() {
            let w = tokio::spawn(write_loop(id, addr, wr, rx, limits, cancel.clone()));
            let read = read_loop(id, addr, rd, side, &limits, &events, &cancel).await;
            cancel.cancel();
            Some((read, w))
        } else {
            // Nobody listens: the link is of no use.
            cancel.cancel();
            None
        };
        let reason = match writer {
            None => "the role loop is gone".to_string(),
            Some((End::Reason(r), w)) => {
                let _ = w.await;
                r
            }
            Some((End::Cancelled, w)) => match w.await {
                Ok(End::Reason(r)) => r,
                Ok(End::Cancelled) => "closed".to_string(),
                Err(e) => format!("the writer failed: {e}"),
            },
        };
        tracing::debug!("{id} with {addr} closed: {reason}");
        // The slot is free before the role loop hears of it: once it has seen `Closed`,
        // a new learner is accepted.
        drop(permit);
        let _ = events.send(LinkEvent::Closed { link: id, reason }).await;
    });
    handle
}

/// Decodes packets and reports them, until EOF, a bad packet, or the token.
async fn read_loop(
    id: LinkId,
    addr: SocketAddr,
    rd: OwnedReadHalf,
    side: Side,
    limits: &LinkLimits,
    events: &mpsc::Sender<LinkEvent>,
    cancel: &CancellationToken,
) -> End {
    let mut framed = FramedRead::new(rd, QuorumPacketCodec::new(limits.max_buffer));
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return End::Cancelled,
            p = framed.next() => p,
        };
        let packet = match next {
            None => return End::Reason("the peer closed the connection".into()),
            Some(Err(e)) => {
                tracing::warn!("{id} with {addr}: closing on a bad packet: {e}");
                return End::Reason(format!("bad packet: {e}"));
            }
            Some(Ok(p)) => p,
        };
        let event = if side == Side::Learner && packet.r#type == pt::SNAP {
            let bytes = tokio::select! {
                biased;
                _ = cancel.cancelled() => return End::Cancelled,
                b = read_snapshot(&mut framed, limits) => b,
            };
            match bytes {
                Ok(bytes) => LinkEvent::Snapshot {
                    link: id,
                    packet,
                    bytes,
                },
                Err(reason) => {
                    tracing::warn!("{id} with {addr}: closing: {reason}");
                    return End::Reason(reason);
                }
            }
        } else {
            LinkEvent::Packet { link: id, packet }
        };
        // Waiting here is the backpressure: this peer's bytes stay in its TCP window.
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return End::Cancelled,
            sent = events.send(event) => if sent.is_err() {
                return End::Reason("the role loop is gone".into());
            },
        }
    }
}

/// Reads the snapshot that follows SNAP off the stream (it is not made of packets; see
/// [`crate::quorum::transport::snap`]), as the follower's `load_snapshot` does, and leaves
/// what follows it in the codec's buffer.
async fn read_snapshot(
    framed: &mut FramedRead<OwnedReadHalf, QuorumPacketCodec>,
    limits: &LinkLimits,
) -> Result<Bytes, String> {
    let mut buf: BytesMut = std::mem::take(framed.read_buffer_mut());
    let mut scanner = SnapScanner::new(limits.max_buffer);
    let len = loop {
        let scanned = scanner.scan(&buf).map_err(|e| e.to_string())?;
        // Checked on what is scanned, not only before reading more: a snapshot that
        // arrived whole in one read is bounded too.
        if scanned.unwrap_or(buf.len()) > limits.max_snapshot_bytes {
            return Err(format!(
                "the snapshot exceeds {} bytes",
                limits.max_snapshot_bytes
            ));
        }
        if let Some(len) = scanned {
            break len;
        }
        buf.reserve(64 * 1024);
        let n = tokio::time::timeout(limits.snapshot_stall, framed.get_mut().read_buf(&mut buf))
            .await
            .map_err(|_| format!("the snapshot stalled for {:?}", limits.snapshot_stall))?
            .map_err(|e| format!("reading the snapshot: {e}"))?;
        if n == 0 {
            return Err("closed in the middle of the snapshot".into());
        }
    };
    let snap = buf.split_to(len).freeze();
    *framed.read_buffer_mut() = buf;
    Ok(snap)
}

/// Writes what the handle queues. Packets are fed to the codec's buffer and flushed once
/// the queue is momentarily empty, so a burst (a DIFF, a round of PROPOSALs) goes out in
/// few writes.
async fn write_loop(
    id: LinkId,
    addr: SocketAddr,
    wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<LinkOut>,
    limits: LinkLimits,
    cancel: CancellationToken,
) -> End {
    let mut framed = FramedWrite::new(wr, QuorumPacketCodec::new(limits.max_buffer));
    let end = loop {
        let out = tokio::select! {
            biased;
            _ = cancel.cancelled() => return End::Cancelled,
            out = rx.recv() => out,
        };
        let written = match out {
            Some(LinkOut::Packet(p)) => feed(&mut framed, p, &limits).await,
            Some(LinkOut::Packets(ps)) => feed_all(&mut framed, ps, &limits).await,
            Some(LinkOut::Raw(bytes)) => write_raw(&mut framed, &bytes, &limits).await,
            Some(LinkOut::Close) => break "closed by this server".to_string(),
            None => break "every handle was dropped".to_string(),
        };
        let flushed = match written {
            Ok(()) if rx.is_empty() => flush(&mut framed, &limits).await,
            other => other,
        };
        if let Err(reason) = flushed {
            tracing::warn!("{id} with {addr}: closing: {reason}");
            cancel.cancel();
            return End::Reason(reason);
        }
    };
    // A graceful close: what was queued before it goes out, then the FIN.
    let closed = tokio::select! {
        biased;
        _ = cancel.cancelled() => return End::Cancelled,
        r = async {
            flush(&mut framed, &limits).await?;
            with_timeout(&limits, framed.get_mut().shutdown()).await
        } => r,
    };
    cancel.cancel();
    End::Reason(match closed {
        Ok(()) => end,
        Err(e) => format!("{end}, then {e}"),
    })
}

type Writer = FramedWrite<OwnedWriteHalf, QuorumPacketCodec>;

async fn feed(framed: &mut Writer, p: QuorumPacket, limits: &LinkLimits) -> Result<(), String> {
    let what = pt::name(p.r#type);
    match tokio::time::timeout(limits.write_timeout, framed.feed(p)).await {
        Err(_) => Err(format!(
            "writing timed out after {:?}",
            limits.write_timeout
        )),
        Ok(Err(e)) => Err(format!("writing {what}: {e}")),
        Ok(Ok(())) => Ok(()),
    }
}

async fn feed_all(
    framed: &mut Writer,
    packets: Vec<QuorumPacket>,
    limits: &LinkLimits,
) -> Result<(), String> {
    for p in packets {
        feed(framed, p, limits).await?;
    }
    Ok(())
}

async fn flush(framed: &mut Writer, limits: &LinkLimits) -> Result<(), String> {
    let flushed = SinkExt::<QuorumPacket>::flush(framed);
    match tokio::time::timeout(limits.write_timeout, flushed).await {
        Err(_) => Err(format!(
            "writing timed out after {:?}",
            limits.write_timeout
        )),
        Ok(Err(e)) => Err(format!("writing: {e}")),
        Ok(Ok(())) => Ok(()),
    }
}

/// Raw bytes bypass the codec: what it buffered goes first, then the bytes in pieces.
async fn write_raw(framed: &mut Writer, bytes: &[u8], limits: &LinkLimits) -> Result<(), String> {
    flush(framed, limits).await?;
    for piece in bytes.chunks(RAW_CHUNK) {
        with_timeout(limits, framed.get_mut().write_all(piece)).await?;
    }
    Ok(())
}

async fn with_timeout(
    limits: &LinkLimits,
    io: impl std::future::Future<Output = std::io::Result<()>>,
) -> Result<(), String> {
    match tokio::time::timeout(limits.write_timeout, io).await {
        Err(_) => Err(format!(
            "writing timed out after {:?}",
            limits.write_timeout
        )),
        Ok(Err(e)) => Err(format!("writing: {e}")),
        Ok(Ok(())) => Ok(()),
    }
}
