//! One established election connection: the initial message, then a writer task fed by
//! the peer's [`SendSlot`](super::slot::SendSlot) and a receive loop of length-prefixed
//! frames (SendWorker and RecvWorker).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::cnx::{CnxManager, Peer, Received};
use super::limits;
use super::slot::lock;
use super::tls::QuorumStream;
use super::TransportError;
use crate::proto::quorum::election::ElectionFrameCodec;
use crate::proto::quorum::handshake::{InitialMessage, PROTOCOL_VERSION_V1};
use crate::quorum::Sid;

/// The most bytes an initial message can take: version, sid, length, address.
const MAX_INITIAL_MESSAGE: usize = 8 + 8 + 4 + limits::MAX_ADDRESS_LEN;

/// startConnection's first bytes: protocol version V1 (3.8 sends V2 only with
/// multiAddress.enabled), our sid, our election address, in one write.
pub(crate) async fn send_initial_message<S: AsyncWrite + Unpin>(
    stream: &mut S,
    me: Sid,
    address: &str,
) -> std::io::Result<()> {
    let msg = InitialMessage::Versioned {
        protocol_version: PROTOCOL_VERSION_V1,
        sid: me.as_i64(),
        addresses: address.to_string(),
    };
    let mut buf = BytesMut::with_capacity(20 + address.len());
    msg.encode(&mut buf);
    stream.write_all(&buf).await
}

/// Read the dialer's initial message (InitialMessage.parse, with its 2048-byte address
/// bound). Returns it with whatever followed it in the same reads.
pub(crate) async fn read_initial_message<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(InitialMessage, BytesMut), String> {
    let mut buf = BytesMut::with_capacity(256);
    loop {
        match InitialMessage::decode(&buf) {
            Ok(Some((msg, used))) => {
                let _ = buf.split_to(used);
                return Ok((msg, buf));
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        if buf.len() >= MAX_INITIAL_MESSAGE {
            return Err(format!("longer than {MAX_INITIAL_MESSAGE} bytes"));
        }
        let room = MAX_INITIAL_MESSAGE - buf.len();
        buf.reserve(room);
        let mut limited = (&mut buf).limit(room);
        match stream.read_buf(&mut limited).await {
            Ok(0) => return Err(format!("connection closed after {} bytes", buf.len())),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Run the connection until it breaks or `cancel` fires (a newer connection replaced it,
/// or shutdown), then tell the manager.
pub(crate) async fn run(
    cnx: Arc<CnxManager>,
    peer: Arc<Peer>,
    id: u64,
    cancel: CancellationToken,
    stream: QuorumStream,
    rest: BytesMut,
) {
    let (rd, wr) = tokio::io::split(stream);
    let writer = tokio::spawn(write_loop(peer.clone(), wr, cancel.clone()));
    let read_result = read_loop(&cnx, &peer, rd, rest, &cancel).await;
    cancel.cancel();
    let write_result = writer.await.unwrap_or(Ok(()));
    match read_result.and(write_result) {
        Err(e) => tracing::warn!(
            "Connection broken for id {}, my id = {}: {e}",
            peer.sid.0,
            cnx.me().0
        ),
        Ok(()) => tracing::debug!("election connection {id} with sid {} closed", peer.sid.0),
    }
    cnx.link_ended(&peer, id);
}

/// RecvWorker: frames of `int length` (1..=PACKETMAXSIZE) + payload, handed to the
/// election driver. A bad length ends the connection; what the payload holds is the
/// driver's business (Java drops a malformed notification and keeps the connection).
async fn read_loop(
    cnx: &CnxManager,
    peer: &Peer,
    mut rd: ReadHalf<QuorumStream>,
    mut buf: BytesMut,
    cancel: &CancellationToken,
) -> Result<(), TransportError> {
    let mut codec = ElectionFrameCodec;
    let mut delivered = false;
    loop {
        loop {
            let frame = codec.decode(&mut buf).map_err(|e| TransportError::Frame {
                sid: peer.sid.0,
                reason: e.to_string(),
            })?;
            let Some(frame) = frame else { break };
            if !delivered {
                delivered = true;
                peer.reset_backoff();
            }
            let received = Received {
                from: peer.sid,
                frame,
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                sent = cnx.recv_sender().send(received) => {
                    if sent.is_err() {
                        // The driver is gone: nobody listens any more.
                        return Ok(());
                    }
                }
            }
        }
        let n = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = rd.read_buf(&mut buf) => r.map_err(|source| TransportError::Io { sid: peer.sid.0, source })?,
        };
        if n == 0 {
            return Err(TransportError::Io {
                sid: peer.sid.0,
                source: std::io::ErrorKind::UnexpectedEof.into(),
            });
        }
    }
}

/// SendWorker: first the last message sent on an earlier connection if nothing newer
/// waits, then whatever the slot hands over, one frame per write.
async fn write_loop(
    peer: Arc<Peer>,
    mut wr: WriteHalf<QuorumStream>,
    cancel: CancellationToken,
) -> Result<(), TransportError> {
    let result = async {
        if peer.slot.is_empty() {
            let last = lock(&peer.state).last_sent.clone();
            if let Some(frame) = last {
                write_frame(&peer, &mut wr, &frame).await?;
            }
        }
        loop {
            let frame = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                f = peer.slot.take() => f,
            };
            lock(&peer.state).last_sent = Some(frame.clone());
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = write_frame(&peer, &mut wr, &frame) => r?,
            }
        }
    }
    .await;
    // Wake the receive loop: either side failing ends the connection.
    cancel.cancel();
    result
}

async fn write_frame(
    peer: &Peer,
    wr: &mut WriteHalf<QuorumStream>,
    frame: &[u8],
) -> Result<(), TransportError> {
    let io = |source| TransportError::Io {
        sid: peer.sid.0,
        source,
    };
    tokio::time::timeout(limits::WRITE_TIMEOUT, wr.write_all(frame))
        .await
        .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))?
        .map_err(io)
}
