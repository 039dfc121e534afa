//! What a QuorumPacket's `data` buffer carries, per packet type, as 3.8 writes it.
//!
//! Most payloads are not jute records: Learner and Leader build them with
//! `DataOutputStream` or `ByteBuffer` (big-endian ints and longs, one-byte booleans, no
//! length prefixes), and the readers ignore bytes after what they need. Only
//! LearnerInfo and the txn entries are jute.

use bytes::{BufMut, BytesMut};

use super::QuorumWireError;
use crate::jute::{jute_record, Jute};
use crate::proto::txn::TxnEntry;

/// A payload's decode/encode pair; `decode` never panics on any input.
pub(crate) trait Payload: Sized {
    /// The name errors use.
    const KIND: &'static str;
    /// Parses a packet's data (null data is passed as empty).
    fn decode(data: &[u8]) -> Result<Self, QuorumWireError>;
    /// Appends the encoding.
    fn encode(&self, out: &mut BytesMut);
    /// The encoding as a packet's data buffer.
    fn to_data(&self) -> Vec<u8> {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.to_vec()
    }
}

fn bad<T>(kind: &'static str, reason: impl Into<String>) -> Result<T, QuorumWireError> {
    Err(QuorumWireError::BadPayload {
        kind,
        reason: reason.into(),
    })
}

/// Splits `n` bytes off the front, or fails with what was expected.
fn take<'a>(kind: &'static str, i: &mut &'a [u8], n: usize) -> Result<&'a [u8], QuorumWireError> {
    if i.len() < n {
        return bad(kind, format!("{} bytes, need {n}", i.len()));
    }
    let (head, rest) = i.split_at(n);
    *i = rest;
    Ok(head)
}

fn get_i64(kind: &'static str, i: &mut &[u8]) -> Result<i64, QuorumWireError> {
    let b = take(kind, i, 8)?;
    Ok(i64::from_be_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

fn get_i32(kind: &'static str, i: &mut &[u8]) -> Result<i32, QuorumWireError> {
    let b = take(kind, i, 4)?;
    Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

jute_record! {
    /// FOLLOWERINFO/OBSERVERINFO data (zookeeper.jute LearnerInfo): the learner's sid,
    /// protocol version (0x10000 since Zab 1.0) and the version of its last config.
    pub struct LearnerInfo { pub serverid: i64, pub protocol_version: i32, pub config_version: i64 }
}

/// What LearnerHandler takes from a LearnerInfo: it reads the sid if there are 8 bytes,
/// the version if 12, the config version if 20, and nothing more, so older learners'
/// shorter forms are accepted. `None` fields were absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LearnerInfoView {
    /// The learner's sid (with null data the leader makes up a negative one).
    pub(crate) serverid: Option<i64>,
    /// Below 0x10000 the leader skips LEADERINFO/ACKEPOCH and sends NEWLEADER first.
    pub(crate) protocol_version: Option<i32>,
    /// A learner whose config is newer than the leader's is refused.
    pub(crate) config_version: Option<i64>,
}

impl LearnerInfoView {
    /// The leader's lenient reading; never fails.
    pub(crate) fn parse(mut data: &[u8]) -> LearnerInfoView {
        let kind = "LearnerInfo";
        let serverid = get_i64(kind, &mut data).ok();
        let protocol_version = serverid.and_then(|_| get_i32(kind, &mut data).ok());
        let config_version = protocol_version.and_then(|_| get_i64(kind, &mut data).ok());
        LearnerInfoView {
            serverid,
            protocol_version,
            config_version,
        }
    }
}

impl Payload for LearnerInfo {
    const KIND: &'static str = "LearnerInfo";
    fn decode(data: &[u8]) -> Result<Self, QuorumWireError> {
        Ok(LearnerInfo::from_bytes(data)?)
    }
    fn encode(&self, out: &mut BytesMut) {
        self.write(out);
    }
}

/// The protocol version 3.x learners and leaders announce (Zab 1.0).
pub(crate) const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

/// Defines a payload that is a fixed sequence of big-endian fields (DataOutputStream or
/// ByteBuffer). Decoding reads the fields and ignores any bytes after them, as Java does.
macro_rules! fixed_payload {
    ($(#[$m:meta])* $name:ident, $kind:literal { $($(#[$fm:meta])* $f:ident : $t:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct $name { $($(#[$fm])* pub(crate) $f: $t),* }

        impl Payload for $name {
            const KIND: &'static str = $kind;
            fn decode(mut data: &[u8]) -> Result<Self, QuorumWireError> {
                $(let $f = fixed_payload!(@get $t, $kind, &mut data)?;)*
                Ok($name { $($f),* })
            }
            fn encode(&self, out: &mut BytesMut) {
                $(fixed_payload!(@put $t, out, self.$f);)*
            }
        }
    };
    (@get i64, $kind:literal, $d:expr) => { get_i64($kind, $d) };
    (@get i32, $kind:literal, $d:expr) => { get_i32($kind, $d) };
    // DataInputStream.readBoolean: any non-zero byte is true.
    (@get bool, $kind:literal, $d:expr) => { take($kind, $d, 1).map(|b| b[0] != 0) };
    (@put i64, $out:expr, $v:expr) => { $out.put_i64($v) };
    (@put i32, $out:expr, $v:expr) => { $out.put_i32($v) };
    (@put bool, $out:expr, $v:expr) => { $out.put_u8(u8::from($v)) };
}

fixed_payload! {
    /// LEADERINFO data: the leader's protocol version (the new epoch is in the zxid).
    LeaderInfo, "LEADERINFO" { protocol_version: i32 }
}
fixed_payload! {
    /// ACKEPOCH data: the learner's currentEpoch cut to an int, or -1 when it had already
    /// accepted the proposed epoch (that ack then does not count toward the quorum).
    AckEpoch, "ACKEPOCH" { current_epoch: i32 }
}
fixed_payload! {
    /// REVALIDATE from a learner: a client reattached there with this session.
    RevalidateAsk, "REVALIDATE" { session_id: i64, timeout_ms: i32 }
}
fixed_payload! {
    /// REVALIDATE answer from the leader; the packet's zxid echoes the ask's (-1).
    RevalidateAnswer, "REVALIDATE answer" { session_id: i64, valid: bool }
}
fixed_payload! {
    /// COMMITANDACTIVATE data: the leader designated by the committed reconfig.
    CommitAndActivate, "COMMITANDACTIVATE" { designated_leader: i64 }
}
fixed_payload! {
    /// One entry of a learner's PING reply: a session touched since the last ping.
    SessionTouch, "PING" { session_id: i64, timeout_ms: i32 }
}

/// A learner's PING reply data: its touch table, 12 bytes per session, in no set order.
/// The leader reads entries while bytes remain, so a partial entry is an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PingTouches(pub(crate) Vec<SessionTouch>);

impl Payload for PingTouches {
    const KIND: &'static str = "PING";
    fn decode(data: &[u8]) -> Result<Self, QuorumWireError> {
        if !data.len().is_multiple_of(12) {
            return bad(
                Self::KIND,
                format!("{} bytes is not a whole number of entries", data.len()),
            );
        }
        data.chunks_exact(12)
            .map(SessionTouch::decode)
            .collect::<Result<_, _>>()
            .map(PingTouches)
    }
    fn encode(&self, out: &mut BytesMut) {
        self.0.iter().for_each(|t| t.encode(out));
    }
}

/// REQUEST data: a client write forwarded by a learner. `body` is the request record
/// exactly as the client sent it after its RequestHeader (empty for closeSession).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwardedRequest {
    /// The client's session.
    pub(crate) session_id: i64,
    /// The client's xid (0 for a createSession the learner makes up).
    pub(crate) cxid: i32,
    /// The opcode (createSession -10 carries an int timeout as its body).
    pub(crate) op_type: i32,
    /// The raw request record; decode it with `proto::Request::decode(op_type, body)`.
    pub(crate) body: Vec<u8>,
}

impl Payload for ForwardedRequest {
    const KIND: &'static str = "REQUEST";
    fn decode(mut data: &[u8]) -> Result<Self, QuorumWireError> {
        let session_id = get_i64(Self::KIND, &mut data)?;
        let cxid = get_i32(Self::KIND, &mut data)?;
        let op_type = get_i32(Self::KIND, &mut data)?;
        Ok(ForwardedRequest {
            session_id,
            cxid,
            op_type,
            body: data.to_vec(),
        })
    }
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(self.session_id);
        out.put_i32(self.cxid);
        out.put_i32(self.op_type);
        out.put_slice(&self.body);
    }
}

/// PROPOSAL and INFORM data: TxnHeader ‖ txn record ‖ TxnDigest (3.8 adds the digest
/// when zookeeper.digest.enabled, the default), as Util.marshallTxnEntry writes them.
impl Payload for TxnEntry {
    const KIND: &'static str = "PROPOSAL";
    fn decode(data: &[u8]) -> Result<Self, QuorumWireError> {
        Ok(TxnEntry::from_bytes(data)?)
    }
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.to_bytes());
    }
}

/// INFORMANDACTIVATE data: the designated leader, then the reconfig's txn entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InformAndActivate {
    /// The leader designated by the reconfig.
    pub(crate) designated_leader: i64,
    /// The reconfig txn.
    pub(crate) txn: TxnEntry,
}

impl Payload for InformAndActivate {
    const KIND: &'static str = "INFORMANDACTIVATE";
    fn decode(mut data: &[u8]) -> Result<Self, QuorumWireError> {
        let designated_leader = get_i64(Self::KIND, &mut data)?;
        let txn = TxnEntry::decode(data)?;
        Ok(InformAndActivate {
            designated_leader,
            txn,
        })
    }
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(self.designated_leader);
        self.txn.encode(out);
    }
}

/// NEWLEADER data: the leader's last-seen config (QuorumVerifier.toString bytes, lines
/// `server.N=...` then `version=<hex>`). Null only toward pre-Zab-1.0 learners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewLeaderConfig(pub(crate) String);

impl Payload for NewLeaderConfig {
    const KIND: &'static str = "NEWLEADER";
    fn decode(data: &[u8]) -> Result<Self, QuorumWireError> {
        match std::str::from_utf8(data) {
            Ok(s) => Ok(NewLeaderConfig(s.to_owned())),
            Err(e) => bad(Self::KIND, format!("config is not UTF-8: {e}")),
        }
    }
    fn encode(&self, out: &mut BytesMut) {
        out.put_slice(self.0.as_bytes());
    }
}

impl NewLeaderConfig {
    /// The config version (the hex after `version=`), if the config names one.
    pub(crate) fn version(&self) -> Option<i64> {
        let v = self.0.lines().find_map(|l| l.strip_prefix("version="))?;
        i64::from_str_radix(v.trim(), 16).ok()
    }
}
