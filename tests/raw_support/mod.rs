//! Raw-socket client pieces for the tests that must see every byte a server sends
//! (`tests/bad_input.rs`, `tests/held_output.rs`): frames, requests and replies built and
//! read by hand, without a client library in between.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A length-prefixed frame.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut b = (payload.len() as i32).to_be_bytes().to_vec();
    b.extend_from_slice(payload);
    b
}

/// A jute buffer / ustring: length, then the bytes.
pub fn ustr(s: &[u8]) -> Vec<u8> {
    let mut b = (s.len() as i32).to_be_bytes().to_vec();
    b.extend_from_slice(s);
    b
}

/// ConnectRequest with a 30 s timeout and a zero password, with or without the readOnly byte.
pub fn connect_request(session_id: i64, last_zxid: i64, read_only: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&last_zxid.to_be_bytes());
    b.extend_from_slice(&30000i32.to_be_bytes());
    b.extend_from_slice(&session_id.to_be_bytes());
    b.extend_from_slice(&ustr(&[0; 16]));
    if read_only {
        b.push(0);
    }
    b
}

/// A whole request frame: RequestHeader{xid, op} and the body.
pub fn request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut p = xid.to_be_bytes().to_vec();
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(body);
    frame(&p)
}

/// CreateRequest{path, data (None: null), [world:anyone ALL], flags 0}.
pub fn create_body_with(path: &[u8], data: Option<&[u8]>) -> Vec<u8> {
    let mut b = ustr(path);
    match data {
        Some(d) => b.extend_from_slice(&ustr(d)),
        None => b.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&31i32.to_be_bytes());
    b.extend_from_slice(&ustr(b"world"));
    b.extend_from_slice(&ustr(b"anyone"));
    b.extend_from_slice(&0i32.to_be_bytes());
    b
}

/// CreateRequest{path, null data, [world:anyone ALL], flags 0}.
pub fn create_body(path: &[u8]) -> Vec<u8> {
    create_body_with(path, None)
}

/// A connection with a 5 s read timeout.
pub fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// One whole frame, or None when the peer closed (or reset) the connection.
pub fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    match s.read_exact(&mut len) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return None
        }
        Err(e) => panic!("read: {e}"),
    }
    let mut b = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut b).ok()?;
    Some(b)
}

/// (xid, zxid, err, body) of a reply.
pub fn reply(s: &mut TcpStream) -> (i32, i64, i32, Vec<u8>) {
    let f = read_frame(s).expect("a reply, not a close");
    assert!(f.len() >= 16, "short reply {f:?}");
    (
        i32::from_be_bytes(f[0..4].try_into().unwrap()),
        i64::from_be_bytes(f[4..12].try_into().unwrap()),
        i32::from_be_bytes(f[12..16].try_into().unwrap()),
        f[16..].to_vec(),
    )
}

/// A new session's connection, its handshake (with the readOnly byte) answered.
pub fn session(addr: SocketAddr) -> TcpStream {
    let mut s = raw(addr);
    s.write_all(&frame(&connect_request(0, 0, true))).unwrap();
    let r = read_frame(&mut s).expect("ConnectResponse");
    assert_eq!(r.len(), 37);
    s
}
