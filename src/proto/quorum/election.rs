//! The election port (QuorumCnxManager + FastLeaderElection in 3.8).
//!
//! The dialer opens with an [`InitialMessage`] (no length prefix, no answer). From then
//! on both directions carry frames `int length` (1..=524288, PACKETMAXSIZE) + payload; a
//! bad length breaks the connection. The payload is a [`Notification`]; one that is
//! malformed is dropped by the receiver without closing the connection, which is why
//! [`ElectionFrameCodec`] yields raw frames and parsing is a separate step.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::QuorumWireError;

/// The handshake version 3.8 sends unless multiAddress.enabled.
pub(crate) const PROTOCOL_VERSION_V1: i64 = -65536;
/// The handshake version listing several '|'-separated addresses (multiAddress.enabled).
pub(crate) const PROTOCOL_VERSION_V2: i64 = -65535;
/// InitialMessage.maxBuffer: the address string must be 1..=2048 bytes.
pub(crate) const MAX_ADDRESS_LEN: usize = 2048;
/// QuorumCnxManager.PACKETMAXSIZE: the largest frame a RecvWorker accepts.
pub(crate) const MAX_FRAME_LEN: usize = 512 * 1024;
/// Notification.CURRENTVERSION: 2 means the message carries the sender's config.
pub(crate) const NOTIFICATION_VERSION: i32 = 2;

/// The dialer's first bytes on an election connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InitialMessage {
    /// A first long that is not negative is taken as a bare sid (pre-3.5 servers).
    Legacy {
        /// The dialer's sid.
        sid: i64,
    },
    /// `long version, long sid, int len, len bytes of "host:port[|host:port...]"`.
    Versioned {
        /// [`PROTOCOL_VERSION_V1`] or [`PROTOCOL_VERSION_V2`].
        protocol_version: i64,
        /// The dialer's sid.
        sid: i64,
        /// Its election address(es), as InitialMessage.parse will split them.
        addresses: String,
    },
}

impl InitialMessage {
    /// The dialer's sid.
    pub(crate) fn sid(&self) -> i64 {
        match self {
            InitialMessage::Legacy { sid } | InitialMessage::Versioned { sid, .. } => *sid,
        }
    }

    /// Decodes from the front of a stream buffer: `Ok(None)` until it is all there,
    /// `Ok(Some((message, bytes used)))`, or the error InitialMessage.parse would raise.
    pub(crate) fn decode(buf: &[u8]) -> Result<Option<(InitialMessage, usize)>, QuorumWireError> {
        let Some(version) = be_i64(buf, 0) else {
            return Ok(None);
        };
        if version >= 0 {
            return Ok(Some((InitialMessage::Legacy { sid: version }, 8)));
        }
        if version != PROTOCOL_VERSION_V1 && version != PROTOCOL_VERSION_V2 {
            return Err(QuorumWireError::UnknownProtocolVersion(version));
        }
        let (Some(sid), Some(len)) = (be_i64(buf, 8), be_i32(buf, 16)) else {
            return Ok(None);
        };
        let len = match usize::try_from(len) {
            Ok(n) if n > MAX_ADDRESS_LEN => {
                return Err(QuorumWireError::TooLarge {
                    what: "election address",
                    len: i64::from(len),
                    max: MAX_ADDRESS_LEN,
                })
            }
            Ok(n) if n > 0 => n,
            _ => {
                return Err(QuorumWireError::BadLength {
                    what: "election address",
                    len: i64::from(len),
                })
            }
        };
        let Some(raw) = buf.get(20..20 + len) else {
            return Ok(None);
        };
        let addresses = String::from_utf8(raw.to_vec())
            .map_err(|_| QuorumWireError::BadAddress(String::from_utf8_lossy(raw).into_owned()))?;
        let message = InitialMessage::Versioned {
            protocol_version: version,
            sid,
            addresses,
        };
        message.election_addresses()?;
        Ok(Some((message, 20 + len)))
    }

    /// Appends the encoding.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        match self {
            InitialMessage::Legacy { sid } => out.put_i64(*sid),
            InitialMessage::Versioned {
                protocol_version,
                sid,
                addresses,
            } => {
                out.put_i64(*protocol_version);
                out.put_i64(*sid);
                out.put_i32(addresses.len() as i32);
                out.put_slice(addresses.as_bytes());
            }
        }
    }

    /// The (host, port) pairs, split and checked as InitialMessage.parse does
    /// (ConfigUtils.getHostAndPort: `host:port` or `[v6]:port`). Empty for Legacy.
    pub(crate) fn election_addresses(&self) -> Result<Vec<(String, u16)>, QuorumWireError> {
        let InitialMessage::Versioned { addresses, .. } = self else {
            return Ok(Vec::new());
        };
        addresses.split('|').map(host_port).collect()
    }
}

fn host_port(addr: &str) -> Result<(String, u16), QuorumWireError> {
    let bad = || QuorumWireError::BadAddress(addr.to_owned());
    let (host, port) = match addr.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':').ok_or_else(bad)?)
        }
        None => addr.split_once(':').ok_or_else(bad)?,
    };
    if port.contains(':') {
        return Err(bad());
    }
    Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
}

fn be_i64(buf: &[u8], at: usize) -> Option<i64> {
    let b: [u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

fn be_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

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
