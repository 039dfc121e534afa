//! Bad client input over raw sockets against an in-process Ferrokeeper. Every expected
//! answer was first measured on Apache ZooKeeper 3.8.0 with the same bytes
//! (tests/golden/capture/bad_input_probe.py); each test says what ZooKeeper answered.
//! "zxid consumed" means the reply's zxid is one more than the last zxid seen before it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ferrokeeper::config::Config;
use ferrokeeper::server::Server;

mod raw_support;
use raw_support::{
    connect_request, create_body, frame, raw, read_frame, reply, request, session, ustr,
};

fn start(tune: impl FnOnce(&mut Config)) -> SocketAddr {
    let mut cfg = Config::default_standalone();
    cfg.client_port = 0;
    cfg.extended_types_enabled = true;
    tune(&mut cfg);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let s = Server::bind_in_memory(cfg).await.expect("bind");
            tx.send(s.local_addr().unwrap()).unwrap();
            let _ = s.run().await;
        });
    });
    rx.recv().unwrap()
}

/// The server's last zxid, as a ping reply reports it.
fn ping(s: &mut TcpStream) -> i64 {
    s.write_all(&request(-2, 11, &[])).unwrap();
    let (xid, zxid, err, body) = reply(s);
    assert_eq!((xid, err, body.len()), (-2, 0, 0));
    zxid
}

fn assert_closed(s: &mut TcpStream) {
    assert_eq!(read_frame(s), None, "expected the connection to be closed");
}

/// Nothing arrives and the connection stays open for a while.
fn assert_silent_open(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected silence on an open connection, got {other:?}"),
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
}

const MAX: i32 = 0xfffff;

#[test]
fn frame_length_above_jute_maxbuffer_closes() {
    let addr = start(|_| {});
    let mut ctl = session(addr);
    // ZooKeeper 3.8: length 1048576 (maxbuffer + 1) after the handshake -> closed, no reply.
    let mut s = session(addr);
    s.write_all(&(MAX + 1).to_be_bytes()).unwrap();
    s.write_all(&[0; 16]).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: length 0x7fffffff -> closed, no reply.
    let mut s = session(addr);
    s.write_all(&i32::MAX.to_be_bytes()).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: as the very first frame (instead of a ConnectRequest) -> closed.
    let mut s = raw(addr);
    s.write_all(&(MAX + 1).to_be_bytes()).unwrap();
    s.write_all(&[0; 16]).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: length == maxbuffer is accepted; with the payload cut short the
    // server just waits for the rest (connection stays open, nothing sent).
    let mut s = session(addr);
    s.write_all(&MAX.to_be_bytes()).unwrap();
    s.write_all(&[0; 16]).unwrap();
    assert_silent_open(&mut s);
    ping(&mut ctl);
}

#[test]
fn negative_length_closes() {
    let addr = start(|_| {});
    // ZooKeeper 3.8: length -5 after the handshake -> closed, no reply.
    let mut s = session(addr);
    s.write_all(&(-5i32).to_be_bytes()).unwrap();
    s.write_all(&[0; 8]).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: length -1 as the first frame -> closed, no reply.
    let mut s = raw(addr);
    s.write_all(&(-1i32).to_be_bytes()).unwrap();
    s.write_all(&[0; 8]).unwrap();
    assert_closed(&mut s);
}

#[test]
fn truncated_frame_then_close() {
    let addr = start(|_| {});
    let mut ctl = session(addr);
    let z0 = ping(&mut ctl);
    // ZooKeeper 3.8: length 100 with 8 bytes, then the client half-closes -> the server
    // closes without a reply and without a txn.
    let mut s = session(addr);
    let z1 = ping(&mut s);
    assert_eq!(z1, z0 + 1, "the new session took one zxid");
    s.write_all(&100i32.to_be_bytes()).unwrap();
    s.write_all(&[0, 0, 0, 1, 0, 0, 0, 4]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_closed(&mut s);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ping(&mut ctl), z1);
}

#[test]
fn payload_shorter_than_request_header_closes() {
    let addr = start(|_| {});
    // ZooKeeper 3.8: a 3-byte payload -> closed, no reply.
    let mut s = session(addr);
    s.write_all(&frame(&[0, 0, 0])).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: a zero-length frame -> closed, no reply.
    let mut s = session(addr);
    s.write_all(&frame(&[])).unwrap();
    assert_closed(&mut s);
}

#[test]
fn unknown_opcode_gets_unimplemented_then_close() {
    let addr = start(|_| {});
    let mut ctl = session(addr);
    for op in [999, 10] {
        // ZooKeeper 3.8: ReplyHeader{xid 7, zxid -1, err -6 UNIMPLEMENTED}, no body, then the
        // connection is closed; no zxid is consumed.
        let mut s = session(addr);
        let z0 = ping(&mut s);
        s.write_all(&request(7, op, b"abc")).unwrap();
        assert_eq!(reply(&mut s), (7, -1, -6, vec![]));
        assert_closed(&mut s);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ping(&mut ctl), z0);
    }
}

#[test]
fn malformed_bodies_are_marshalling_errors() {
    let addr = start(|_| {});
    let mut s = session(addr);
    let cases: Vec<(&str, i32, Vec<u8>, bool)> = vec![
        // (what, opcode, body, whether ZooKeeper 3.8 consumed a zxid)
        // ZooKeeper 3.8: create with a path length past the end -> -5, zxid consumed.
        (
            "create",
            1,
            [&100i32.to_be_bytes()[..], b"/x"].concat(),
            true,
        ),
        // ZooKeeper 3.8: create2 with an empty body -> -5, zxid consumed.
        ("create2", 15, vec![], true),
        // ZooKeeper 3.8: setData with only a path -> -5, zxid consumed.
        ("setData", 5, ustr(b"/a"), true),
        // ZooKeeper 3.8: delete with only a path -> -5, zxid consumed.
        ("delete", 2, ustr(b"/a"), true),
        // ZooKeeper 3.8: multi with a cut-off MultiHeader -> -5, zxid consumed.
        ("multi", 14, vec![0, 0, 0, 1, 0], true),
        // ZooKeeper 3.8: getData with a path length past the end -> -5, no zxid.
        (
            "getData",
            4,
            [&100i32.to_be_bytes()[..], b"/x"].concat(),
            false,
        ),
        // ZooKeeper 3.8: getData with an empty body -> -5, no zxid.
        ("getData empty", 4, vec![], false),
        // ZooKeeper 3.8: exists with a 1-byte body -> -5, no zxid.
        ("exists", 3, vec![0], false),
    ];
    for (what, op, body, writes) in cases {
        let z0 = ping(&mut s);
        s.write_all(&request(7, op, &body)).unwrap();
        let (xid, zxid, err, rest) = reply(&mut s);
        assert_eq!((xid, err, rest.len()), (7, -5, 0), "{what}");
        assert_eq!(zxid, z0 + i64::from(writes), "{what}: zxid");
    }
    // ZooKeeper 3.8: the connection stays usable.
    ping(&mut s);
}

#[test]
fn invalid_paths() {
    let addr = start(|_| {});
    let mut s = session(addr);
    s.write_all(&request(1, 1, &create_body(b"/a"))).unwrap();
    assert_eq!(reply(&mut s).2, 0);
    let version = (-1i32).to_be_bytes();
    // Per path: (create, delete, getData, setData, exists) error codes ZooKeeper 3.8 gave.
    // create, delete and setData always consumed a zxid; getData and exists never did.
    // -8 BADARGUMENTS, -101 NONODE.
    let table: [(&[u8], [i32; 5]); 7] = [
        (b"a", [-8, -8, -101, -8, -101]),
        (b"/a/", [-8, -101, -101, -8, -101]),
        (b"//", [-8, -101, -101, -8, -101]),
        (b"/a/.", [-8, -101, -101, -8, -101]),
        (b"/a/..", [-8, -101, -101, -8, -101]),
        (b"/a\0b", [-8, -8, -101, -8, -8]),
        (b"/zookeeper/x\0", [-8, -8, -101, -8, -8]),
    ];
    for (path, want) in table {
        let mut set_data = ustr(path);
        set_data.extend_from_slice(&version);
        set_data.extend_from_slice(&version);
        let ops: [(i32, Vec<u8>, bool); 5] = [
            (1, create_body(path), true),
            (2, [ustr(path), version.to_vec()].concat(), true),
            (4, [ustr(path), vec![0]].concat(), false),
            (5, set_data, true),
            (3, [ustr(path), vec![0]].concat(), false),
        ];
        for ((op, body, writes), err) in ops.into_iter().zip(want) {
            let z0 = ping(&mut s);
            s.write_all(&request(9, op, &body)).unwrap();
            let (xid, zxid, got, rest) = reply(&mut s);
            let p = String::from_utf8_lossy(path);
            assert_eq!((xid, got, rest.len()), (9, err, 0), "op {op} path {p:?}");
            assert_eq!(zxid, z0 + i64::from(writes), "op {op} path {p:?}: zxid");
        }
    }
    // ZooKeeper 3.8: the empty path is refused by the writes (-8, zxid consumed).
    for (op, body) in [
        (1, create_body(b"")),
        (2, [ustr(b""), version.to_vec()].concat()),
        (5, [ustr(b""), version.to_vec(), version.to_vec()].concat()),
    ] {
        let z0 = ping(&mut s);
        s.write_all(&request(9, op, &body)).unwrap();
        assert_eq!(reply(&mut s), (9, z0 + 1, -8, vec![]), "op {op} path \"\"");
    }
}

/// ZooKeeper 3.8 reads the empty path as the root: getData("") and exists("") succeed
/// with the root's data and stat (its DataTree maps "" to the root node).
#[test]
fn empty_path_reads_the_root() {
    let addr = start(|_| {});
    let mut s = session(addr);
    s.write_all(&request(3, 4, &[ustr(b"/"), vec![0]].concat()))
        .unwrap();
    let root = reply(&mut s);
    assert_eq!(root.2, 0);
    s.write_all(&request(4, 4, &[ustr(b""), vec![0]].concat()))
        .unwrap();
    let (xid, _, err, body) = reply(&mut s);
    assert_eq!((xid, err), (4, 0));
    assert_eq!(body, root.3, "getData(\"\") = getData(\"/\")");
    s.write_all(&request(5, 3, &[ustr(b""), vec![0]].concat()))
        .unwrap();
    let (xid, _, err, body) = reply(&mut s);
    assert_eq!((xid, err, body.len()), (5, 0, 68));
}

#[test]
fn garbage_connect_requests() {
    let addr = start(|_| {});
    // ZooKeeper 3.8: 10 bytes of garbage as the ConnectRequest -> closed, no reply.
    let mut s = raw(addr);
    s.write_all(&frame(&[1; 10])).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: a passwd length (1000) past the end -> closed, no reply.
    let mut c = connect_request(0, 0, false);
    c[24..28].copy_from_slice(&1000i32.to_be_bytes());
    let mut s = raw(addr);
    s.write_all(&frame(&c)).unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: a request (getData) sent instead of a ConnectRequest -> closed.
    let mut s = raw(addr);
    s.write_all(&request(1, 4, &[ustr(b"/"), vec![0]].concat()))
        .unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: lastZxidSeen ahead of the server -> closed, no reply.
    let mut s = raw(addr);
    s.write_all(&frame(&connect_request(0, 1 << 40, true)))
        .unwrap();
    assert_closed(&mut s);
    // ZooKeeper 3.8: an unknown session id -> ConnectResponse{timeOut 0, sessionId 0,
    // passwd 16 zeros, readOnly false} (37 bytes), then closed.
    let mut s = raw(addr);
    s.write_all(&frame(&connect_request(0x1234, 0, true)))
        .unwrap();
    let r = read_frame(&mut s).expect("a ConnectResponse");
    let mut want = vec![0u8; 16];
    want.extend_from_slice(&ustr(&[0; 16]));
    want.push(0);
    assert_eq!(r, want);
    assert_closed(&mut s);
    // ZooKeeper 3.8: a valid ConnectRequest (with readOnly) followed by 4 garbage bytes
    // is accepted: a 37-byte ConnectResponse with a new session, connection open.
    let mut s = raw(addr);
    let mut c = connect_request(0, 0, true);
    c.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    s.write_all(&frame(&c)).unwrap();
    let r = read_frame(&mut s).expect("a ConnectResponse");
    assert_eq!(r.len(), 37);
    assert_eq!(&r[4..8], &30000i32.to_be_bytes());
    assert_ne!(&r[8..16], &[0; 8]);
    ping(&mut s);
}

#[test]
fn max_client_cnxns_per_ip() {
    let addr = start(|c| c.max_client_cnxns = 3);
    // ZooKeeper 3.8 (maxClientCnxns=3): three sessions from 127.0.0.1 connect; the fourth
    // connection is closed without a ConnectResponse; the first three keep working; once
    // they are gone a new connection is accepted again.
    let mut first: Vec<TcpStream> = (0..3).map(|_| session(addr)).collect();
    let mut extra = raw(addr);
    let _ = extra.write_all(&frame(&connect_request(0, 0, true)));
    assert_closed(&mut extra);
    for s in &mut first {
        ping(s);
    }
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        let mut s = raw(addr);
        if s.write_all(&frame(&connect_request(0, 0, true))).is_ok() {
            if let Some(r) = read_frame(&mut s) {
                assert_eq!(r.len(), 37);
                again = Some(s);
                break;
            }
        }
    }
    ping(&mut again.expect("a new connection once the others closed"));
}

#[test]
fn other_sessions_survive_a_bad_connection() {
    let addr = start(|_| {});
    let mut good = session(addr);
    good.write_all(&request(1, 1, &create_body(b"/ok")))
        .unwrap();
    assert_eq!(reply(&mut good).2, 0);
    // Set a data watch on /ok.
    good.write_all(&request(2, 4, &[ustr(b"/ok"), vec![1]].concat()))
        .unwrap();
    assert_eq!(reply(&mut good).2, 0);
    // A stream of misbehaving connections.
    for bad in [
        (-5i32).to_be_bytes().to_vec(),
        (MAX + 1).to_be_bytes().to_vec(),
        frame(&[0, 0, 0]),
    ] {
        let mut b = session(addr);
        b.write_all(&bad).unwrap();
        assert_closed(&mut b);
    }
    let mut b = session(addr);
    b.write_all(&request(7, 999, &[])).unwrap();
    assert_eq!(reply(&mut b).2, -6);
    assert_closed(&mut b);
    // ZooKeeper 3.8: the good session is untouched: its reads work, and a change by
    // another session still fires its watch (xid -1, zxid -1, NodeDataChanged).
    good.write_all(&request(3, 3, &[ustr(b"/ok"), vec![0]].concat()))
        .unwrap();
    assert_eq!(reply(&mut good).2, 0);
    let mut other = session(addr);
    let mut set = ustr(b"/ok");
    set.extend_from_slice(&ustr(b"x"));
    set.extend_from_slice(&(-1i32).to_be_bytes());
    other.write_all(&request(1, 5, &set)).unwrap();
    assert_eq!(reply(&mut other).2, 0);
    let (xid, zxid, err, body) = reply(&mut good);
    assert_eq!((xid, zxid, err), (-1, -1, 0));
    assert_eq!(
        body,
        [&3i32.to_be_bytes()[..], &3i32.to_be_bytes(), &ustr(b"/ok")].concat()
    );
}
