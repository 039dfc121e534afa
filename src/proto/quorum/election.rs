//! The election port (QuorumCnxManager + FastLeaderElection in 3.8).
//!
//! The dialer opens with an `InitialMessage` ([`super::handshake`]). From then
//! on both directions carry frames `int length` (1..=524288, PACKETMAXSIZE) + payload; a
//! bad length breaks the connection. The payload is a [`Notification`]; one that is
//! malformed is dropped by the receiver without closing the connection, which is why
//! [`ElectionFrameCodec`] yields raw frames and parsing is a separate step.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{be_i32, be_i64, QuorumWireError};

/// QuorumCnxManager.PACKETMAXSIZE: the largest frame a RecvWorker accepts.
pub(crate) const MAX_FRAME_LEN: usize = 512 * 1024;
/// Notification.CURRENTVERSION: 2 means the message carries the sender's config.
pub(crate) const NOTIFICATION_VERSION: i32 = 2;

/// QuorumPeer.ServerState, sent as its ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerState {
    /// Electing.
    Looking = 0,
    /// Following the proposed leader.
    Following = 1,
    /// Leading.
    Leading = 2,
    /// Observing the proposed leader.
    Observing = 3,
}

impl ServerState {
    /// Known ordinals only: the receiver drops notifications with any other state.
    pub(crate) fn from_i32(v: i32) -> Option<ServerState> {
        [
            Self::Looking,
            Self::Following,
            Self::Leading,
            Self::Observing,
        ]
        .into_iter()
        .find(|s| *s as i32 == v)
    }
}

/// A FastLeaderElection notification (FastLeaderElection.buildMsg). 3.8 always sends
/// the 44+N byte form; the shorter forms of older servers decode too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    /// The sender's [`ServerState`] ordinal, kept raw.
    pub(crate) state: i32,
    /// The proposed leader's sid (Long.MIN_VALUE from a non-voter).
    pub(crate) leader: i64,
    /// The proposed leader's last logged zxid.
    pub(crate) zxid: i64,
    /// The sender's round (logical clock).
    pub(crate) election_epoch: i64,
    /// The proposed leader's current epoch; `None` in the 28-byte form, where receivers
    /// take the zxid's epoch.
    pub(crate) peer_epoch: Option<i64>,
    /// The version field (0 in the 28-byte form; in the 40-byte form Java does not read it).
    pub(crate) version: i32,
    /// The sender's config (QuorumVerifier string); read only when version > 1. Raw bytes:
    /// a config that does not parse is logged by Java, the vote still counts.
    pub(crate) config: Option<Vec<u8>>,
}

impl Notification {
    /// The sender's state, if it is one of the four Java knows.
    pub(crate) fn server_state(&self) -> Option<ServerState> {
        ServerState::from_i32(self.state)
    }

    /// Parses a frame's payload with the receive rules of FastLeaderElection's
    /// WorkerReceiver: under 28 bytes is too short; exactly 28 has no peerEpoch; exactly
    /// 40 has no (read) version; otherwise a version > 1 brings a config whose length
    /// must fit. Bytes after the last field are ignored, as Java does.
    pub(crate) fn decode(msg: &[u8]) -> Result<Notification, QuorumWireError> {
        let kind = "notification";
        let short = |need: usize| QuorumWireError::BadPayload {
            kind,
            reason: format!("{} bytes, need {need}", msg.len()),
        };
        let (Some(state), Some(leader), Some(zxid), Some(election_epoch)) = (
            be_i32(msg, 0),
            be_i64(msg, 4),
            be_i64(msg, 12),
            be_i64(msg, 20),
        ) else {
            return Err(short(28));
        };
        let mut n = Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch: None,
            version: 0,
            config: None,
        };
        if msg.len() == 28 {
            return Ok(n);
        }
        n.peer_epoch = Some(be_i64(msg, 28).ok_or_else(|| short(36))?);
        n.version = be_i32(msg, 36).ok_or_else(|| short(40))?;
        if msg.len() == 40 || n.version <= 1 {
            return Ok(n);
        }
        let len = be_i32(msg, 40).ok_or_else(|| short(44))?;
        // Java checks 0 <= len <= capacity, then a get past the end underflows: both drop.
        let config = usize::try_from(len)
            .ok()
            .and_then(|len| msg.get(44..44usize.checked_add(len)?))
            .ok_or(QuorumWireError::BadLength {
                what: "notification config",
                len: i64::from(len),
            })?;
        n.config = Some(config.to_vec());
        Ok(n)
    }

    /// Appends the payload (no frame length): 28 bytes without a peer epoch, 40 without
    /// a config, else 44 + config.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.state);
        out.put_i64(self.leader);
        out.put_i64(self.zxid);
        out.put_i64(self.election_epoch);
        let Some(peer_epoch) = self.peer_epoch else {
            return;
        };
        out.put_i64(peer_epoch);
        out.put_i32(self.version);
        if let Some(config) = &self.config {
            out.put_i32(config.len() as i32);
            out.put_slice(config);
        }
    }

    /// The payload length.
    pub(crate) fn encoded_len(&self) -> usize {
        match (&self.peer_epoch, &self.config) {
            (None, _) => 28,
            (Some(_), None) => 40,
            (Some(_), Some(c)) => 44 + c.len(),
        }
    }
}

/// Frames the election stream after the handshake: `int length` + payload.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ElectionFrameCodec;

impl Decoder for ElectionFrameCodec {
    type Item = Bytes;
    type Error = QuorumWireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, QuorumWireError> {
        let Some(len) = be_i32(src, 0) else {
            return Ok(None);
        };
        let len = frame_len(i64::from(len))?;
        if src.len() < 4 + len {
            // Reserve the frame now that its length is known to be sane.
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(len).freeze()))
    }
}

/// RecvWorker's check: 1..=PACKETMAXSIZE.
fn frame_len(len: i64) -> Result<usize, QuorumWireError> {
    match usize::try_from(len) {
        Ok(n) if n > MAX_FRAME_LEN => Err(QuorumWireError::TooLarge {
            what: "election frame",
            len,
            max: MAX_FRAME_LEN,
        }),
        Ok(n) if n > 0 => Ok(n),
        _ => Err(QuorumWireError::BadLength {
            what: "election frame",
            len,
        }),
    }
}

impl Encoder<&Notification> for ElectionFrameCodec {
    type Error = QuorumWireError;

    fn encode(&mut self, n: &Notification, dst: &mut BytesMut) -> Result<(), QuorumWireError> {
        let len = frame_len(n.encoded_len() as i64)?;
        dst.reserve(4 + len);
        dst.put_i32(len as i32);
        n.encode(dst);
        Ok(())
    }
}

impl Encoder<Notification> for ElectionFrameCodec {
    type Error = QuorumWireError;

    fn encode(&mut self, n: Notification, dst: &mut BytesMut) -> Result<(), QuorumWireError> {
        self.encode(&n, dst)
    }
}
