//! `QuorumPacket` (zookeeper.jute) and its stream codec for the quorum port.
//!
//! Learner.writePacket and LearnerHandler write each packet with
//! `BinaryOutputArchive.writeRecord` on a BufferedOutputStream, and read it back with
//! `BinaryInputArchive.readRecord`: the packets follow each other with **no length
//! prefix**. The decoder therefore walks the record's own length fields to find where a
//! packet ends, checking each against the limit before anything is allocated.
//! BinaryInputArchive rejects a buffer or string longer than jute.maxbuffer plus
//! zookeeper.jute.maxbuffer.extrasize (both 0xfffff by default), which is our default.
//!
//! After a SNAP packet the leader streams the raw snapshot, which is not a QuorumPacket:
//! the driver must stop decoding packets there and read the snapshot from the buffer
//! (`FramedRead::read_buffer_mut`) until the "BenWasHere" signature.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{be_i32, QuorumWireError};
use crate::jute::{JResult, Jute, JuteError};
use crate::proto::acl::Id;

/// Java's effective default: jute.maxbuffer (0xfffff) + extrasize (defaults to maxbuffer).
pub(crate) const DEFAULT_MAX_BUFFER: usize = 0xfffff + 0xfffff;
/// Room for the fixed fields and the authinfo ids on top of one maximal buffer.
const FRAME_HEADROOM: usize = 64 * 1024;
/// type + zxid + data length.
const HEADER_LEN: usize = 16;

/// One packet of the quorum port. `None` keeps Java's null (-1) apart from empty, so
/// re-encoding gives back the very bytes a Java server sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct QuorumPacket {
    /// A [`super::packet_type`] constant.
    pub(crate) r#type: i32,
    /// The zxid this packet is about (meaning per type; -1 for REQUEST/UPTODATE/REVALIDATE).
    pub(crate) zxid: i64,
    /// The payload (see [`super::payload`]); null for ACK, COMMIT, DIFF, the leader's PING, ...
    pub(crate) data: Option<Vec<u8>>,
    /// Auth ids of a forwarded request's client; null elsewhere.
    pub(crate) authinfo: Option<Vec<Id>>,
}

impl QuorumPacket {
    /// A packet with null data and null authinfo (ACK, COMMIT, UPTODATE, DIFF, ...).
    pub(crate) fn bare(r#type: i32, zxid: i64) -> QuorumPacket {
        QuorumPacket {
            r#type,
            zxid,
            data: None,
            authinfo: None,
        }
    }

    /// A packet whose data is `data` and whose authinfo is null.
    pub(crate) fn with_data(r#type: i32, zxid: i64, data: Vec<u8>) -> QuorumPacket {
        QuorumPacket {
            r#type,
            zxid,
            data: Some(data),
            authinfo: None,
        }
    }

    /// The data, with null read as empty (how the payload parsers see it).
    pub(crate) fn data_or_empty(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// The encoded size.
    pub(crate) fn encoded_len(&self) -> usize {
        let ids: usize = (self.authinfo.iter().flatten())
            .map(|id| 8 + id.scheme.len() + id.id.len())
            .sum();
        HEADER_LEN + self.data.as_ref().map_or(0, Vec::len) + 4 + ids
    }
}

impl Jute for QuorumPacket {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, r#type) = i32::read(i)?;
        let (i, zxid) = i64::read(i)?;
        let (i, data) = Option::<Vec<u8>>::read(i)?;
        let (mut i, count) = i32::read(i)?;
        let authinfo = if count == -1 {
            None
        } else {
            // Each Id takes at least 8 bytes, so a count beyond that is a lie: checking
            // first keeps a hostile count from reserving memory.
            let n = usize::try_from(count).map_err(|_| JuteError::BadLength(count))?;
            if n > i.len() / 8 {
                return Err(JuteError::BadLength(count));
            }
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let (rest, id) = Id::read(i)?;
                i = rest;
                ids.push(id);
            }
            Some(ids)
        };
        Ok((
            i,
            QuorumPacket {
                r#type,
                zxid,
                data,
                authinfo,
            },
        ))
    }

    fn write(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_i32(self.r#type);
        out.put_i64(self.zxid);
        self.data.write(out);
        match &self.authinfo {
            None => out.put_i32(-1),
            Some(ids) => ids.write(out),
        }
    }
}

/// Validates a buffer/string length field: -1 (null) counts as 0 bytes.
fn field_len(what: &'static str, n: i32, max: usize) -> Result<usize, QuorumWireError> {
    if n == -1 {
        return Ok(0);
    }
    let len = usize::try_from(n).map_err(|_| QuorumWireError::BadLength {
        what,
        len: i64::from(n),
    })?;
    if len > max {
        return Err(QuorumWireError::TooLarge {
            what,
            len: i64::from(n),
            max,
        });
    }
    Ok(len)
}

/// How many bytes the packet at the front of `buf` takes: `None` when more bytes are
/// needed, an error as soon as a length field is invalid or over `max_buffer`.
pub(crate) fn frame_len(buf: &[u8], max_buffer: usize) -> Result<Option<usize>, QuorumWireError> {
    let max_frame = max_buffer.saturating_add(FRAME_HEADROOM);
    let Some(n) = be_i32(buf, 12) else {
        return Ok(None);
    };
    let mut at = HEADER_LEN + field_len("data", n, max_buffer)?;
    let Some(count) = be_i32(buf, at) else {
        return Ok(None);
    };
    at += 4;
    if count != -1 {
        // Java reads a count below -1 as an empty vector, but no Java writer produces one,
        // so it is rejected here; each id takes at least 8 bytes, which bounds the count.
        let count = field_len("authinfo", count, max_frame / 8)?;
        for _ in 0..count {
            for what in ["authinfo scheme", "authinfo id"] {
                let Some(n) = be_i32(buf, at) else {
                    return Ok(None);
                };
                at += 4 + field_len(what, n, max_buffer)?;
                if at > max_frame {
                    return Err(QuorumWireError::TooLarge {
                        what: "quorum packet",
                        len: at as i64,
                        max: max_frame,
                    });
                }
            }
        }
    }
    Ok((buf.len() >= at).then_some(at))
}

/// Frames QuorumPackets on a quorum-port byte stream.
#[derive(Debug, Clone)]
pub(crate) struct QuorumPacketCodec {
    max_buffer: usize,
}

impl QuorumPacketCodec {
    /// A codec rejecting any buffer or string longer than `max_buffer` bytes.
    pub(crate) fn new(max_buffer: usize) -> QuorumPacketCodec {
        QuorumPacketCodec { max_buffer }
    }
}

impl Default for QuorumPacketCodec {
    fn default() -> Self {
        QuorumPacketCodec::new(DEFAULT_MAX_BUFFER)
    }
}

impl Decoder for QuorumPacketCodec {
    type Item = QuorumPacket;
    type Error = QuorumWireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<QuorumPacket>, QuorumWireError> {
        let Some(len) = frame_len(src, self.max_buffer)? else {
            return Ok(None);
        };
        let packet = QuorumPacket::from_bytes(&src[..len])?;
        src.advance(len);
        Ok(Some(packet))
    }
}

impl Encoder<&QuorumPacket> for QuorumPacketCodec {
    type Error = QuorumWireError;

    /// Refuses what a Java peer would refuse to read, rather than send it.
    fn encode(&mut self, p: &QuorumPacket, dst: &mut BytesMut) -> Result<(), QuorumWireError> {
        let data_len = p.data.as_ref().map_or(0, Vec::len);
        if data_len > self.max_buffer {
            return Err(QuorumWireError::TooLarge {
                what: "data",
                len: data_len as i64,
                max: self.max_buffer,
            });
        }
        p.write(dst);
        Ok(())
    }
}

impl Encoder<QuorumPacket> for QuorumPacketCodec {
    type Error = QuorumWireError;

    fn encode(&mut self, p: QuorumPacket, dst: &mut BytesMut) -> Result<(), QuorumWireError> {
        self.encode(&p, dst)
    }
}
