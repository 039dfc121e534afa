//! The first bytes on an election connection (QuorumCnxManager.InitialMessage in 3.8).
//!
//! The dialer (the connection survives only if its sid is the larger) sends them once,
//! flushed in one write, and gets no answer; without quorum SASL nothing else precedes the
//! notification frames. The acceptor closes the socket if they do not parse.

use bytes::{BufMut, BytesMut};

use super::{be_i32, be_i64, QuorumWireError};

/// The handshake version 3.8 sends unless multiAddress.enabled.
pub(crate) const PROTOCOL_VERSION_V1: i64 = -65536;
/// The handshake version listing several '|'-separated addresses (multiAddress.enabled).
pub(crate) const PROTOCOL_VERSION_V2: i64 = -65535;
/// InitialMessage.maxBuffer: the address string must be 1..=2048 bytes.
pub(crate) const MAX_ADDRESS_LEN: usize = 2048;

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
