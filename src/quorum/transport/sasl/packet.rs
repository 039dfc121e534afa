//! QuorumAuthPacket (zookeeper.jute: `long magic; int status; buffer token;`), written as
//! SaslQuorumAuthLearner/Server write it: BinaryOutputArchive.writeRecord, so no length
//! prefix, big-endian fields, the token as an int length (-1 for null) and its bytes.

use super::QuorumAuthError;

/// QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER, `-0xa0dbcafecafe1234L`: Java's literal is already
/// negative as a long, so the negation is this positive value. An election initial message
/// starts with a negative protocol version or a small sid, a Zab packet with its small type:
/// neither matches, which is how an acceptor tells an auth packet from the rest.
pub(crate) const MAGIC: i64 = 0x5f24_3501_3501_edcc;
/// magic + status + token length.
pub(crate) const HEADER_LEN: usize = 16;
/// The largest token taken: DIGEST-MD5's are a few hundred bytes, and the JDK refuses
/// responses over 4096 and challenges over 2048.
pub(crate) const MAX_TOKEN: usize = 4096;

/// QuorumAuth.Status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    InProgress,
    Success,
    Error,
}

impl Status {
    fn code(self) -> i32 {
        match self {
            Status::InProgress => 0,
            Status::Success => 1,
            Status::Error => -1,
        }
    }

    /// Status.getStatus: an unknown code is an error.
    fn from_code(code: i32) -> Status {
        match code {
            0 => Status::InProgress,
            1 => Status::Success,
            _ => Status::Error,
        }
    }
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthPacket {
    pub(crate) status: Status,
    /// `None` is jute's null buffer (length -1).
    pub(crate) token: Option<Vec<u8>>,
}

impl AuthPacket {
    pub(crate) fn new(status: Status, token: &[u8]) -> AuthPacket {
        AuthPacket {
            status,
            token: Some(token.to_vec()),
        }
    }

    /// The wire bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let token = self.token.as_deref();
        let mut out = Vec::with_capacity(HEADER_LEN + token.map_or(0, <[u8]>::len));
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&self.status.code().to_be_bytes());
        match token {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(t) => {
                // Tokens are built by us and far below i32::MAX.
                out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                out.extend_from_slice(t);
            }
        }
        out
    }

    /// The header's status and how many token bytes follow it (`None` for null).
    pub(crate) fn decode_header(
        h: &[u8; HEADER_LEN],
    ) -> Result<(Status, Option<usize>), QuorumAuthError> {
        let word = |i: usize| [h[i], h[i + 1], h[i + 2], h[i + 3]];
        let magic = i64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        if magic != MAGIC {
            return Err(QuorumAuthError::Packet(format!(
                "magic {magic:#x}, not {MAGIC:#x}"
            )));
        }
        let status = Status::from_code(i32::from_be_bytes(word(8)));
        let len = i32::from_be_bytes(word(12));
        let len = match len {
            -1 => None,
            n if n < 0 => return Err(QuorumAuthError::Packet(format!("token length {n}"))),
            n => Some(n as usize),
        };
        if let Some(n) = len.filter(|&n| n > MAX_TOKEN) {
            return Err(QuorumAuthError::Packet(format!(
                "token of {n} bytes, at most {MAX_TOKEN}"
            )));
        }
        Ok((status, len))
    }
}
