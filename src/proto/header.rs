//! Frame headers and the connect handshake.

use bytes::BytesMut;

use crate::jute::{jute_record, JResult, Jute};

jute_record! {
    /// Precedes every client request after the handshake.
    pub struct RequestHeader { pub xid: i32, pub r#type: i32 }
}

jute_record! {
    /// Precedes every server reply and notification.
    pub struct ReplyHeader { pub xid: i32, pub zxid: i64, pub err: i32 }
}

/// The first frame of a connection. `read_only` is `None` when the client left the byte
/// out (ZooKeeper then leaves it out of the response too).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The last zxid the client has seen; a server behind it refuses the client.
    pub last_zxid_seen: i64,
    /// Requested session timeout, ms.
    pub time_out: i32,
    /// 0 for a new session.
    pub session_id: i64,
    /// The session password (16 bytes; zeros for a new session).
    pub passwd: Vec<u8>,
    /// The optional trailing readOnly flag.
    pub read_only: Option<bool>,
}

impl Jute for ConnectRequest {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, protocol_version) = i32::read(i)?;
        let (i, last_zxid_seen) = i64::read(i)?;
        let (i, time_out) = i32::read(i)?;
        let (i, session_id) = i64::read(i)?;
        let (i, passwd) = Vec::<u8>::read(i)?;
        let (i, read_only) = if i.is_empty() {
            (i, None)
        } else {
            let (i, b) = bool::read(i)?;
            (i, Some(b))
        };
        Ok((
            i,
            ConnectRequest {
                protocol_version,
                last_zxid_seen,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        ))
    }
    fn write(&self, out: &mut BytesMut) {
        self.protocol_version.write(out);
        self.last_zxid_seen.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(b) = self.read_only {
            b.write(out);
        }
    }
}

/// The answer to a ConnectRequest; `read_only` is present only if the request carried it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// Negotiated timeout in ms; 0 when the session is invalid.
    pub time_out: i32,
    /// The session id; 0 when the session is invalid.
    pub session_id: i64,
    /// The session password.
    pub passwd: Vec<u8>,
    /// Echoed only when the client sent one.
    pub read_only: Option<bool>,
}

impl Jute for ConnectResponse {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, protocol_version) = i32::read(i)?;
        let (i, time_out) = i32::read(i)?;
        let (i, session_id) = i64::read(i)?;
        let (i, passwd) = Vec::<u8>::read(i)?;
        let (i, read_only) = if i.is_empty() {
            (i, None)
        } else {
            let (i, b) = bool::read(i)?;
            (i, Some(b))
        };
        Ok((
            i,
            ConnectResponse {
                protocol_version,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        ))
    }
    fn write(&self, out: &mut BytesMut) {
        self.protocol_version.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(b) = self.read_only {
            b.write(out);
        }
    }
}
