//! Golden frames: real bytes exchanged by the official ZooKeeper 3.8 Java client and a
//! ZooKeeper 3.8.0 server (captured with tests/golden/capture/, see its README). Every
//! frame must decode with Ferrokeeper's codec and re-encode to the very same bytes.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use bytes::BytesMut;
use ferrokeeper::jute::Jute;
use ferrokeeper::proto::{
    op, ConnectRequest, ConnectResponse, Create2Response, CreateResponse, ErrorResponse,
    GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse,
    GetDataResponse, MultiOp, MultiResponse, MultiResult, ReplyHeader, Request, RequestHeader,
    StatResponse, WatcherEvent, WhoAmIResponse,
};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

struct Entry {
    file: String,
    kind: String,
    op: i32,
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(golden_dir().join("MANIFEST")).expect("MANIFEST");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "bad manifest line {l:?}");
            Entry {
                file: f[0].to_string(),
                kind: f[1].to_string(),
                op: f[2].parse().expect("opcode"),
            }
        })
        .collect()
}

fn load(file: &str) -> Vec<u8> {
    std::fs::read(golden_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Encodes a request body the way the Java client does.
fn encode_request(r: &Request) -> BytesMut {
    let mut b = BytesMut::new();
    match r {
        Request::Create(_, x) => x.write(&mut b),
        Request::CreateTtl(x) => x.write(&mut b),
        Request::Delete(x) => x.write(&mut b),
        Request::Exists(x)
        | Request::GetData(x)
        | Request::GetChildren(x)
        | Request::GetChildren2(x) => x.write(&mut b),
        Request::SetData(x) => x.write(&mut b),
        Request::GetAcl(x)
        | Request::Sync(x)
        | Request::GetEphemerals(x)
        | Request::GetAllChildrenNumber(x) => x.write(&mut b),
        Request::SetAcl(x) => x.write(&mut b),
        Request::Check(x) => x.write(&mut b),
        Request::Multi(x) | Request::MultiRead(x) => x.write(&mut b),
        Request::Reconfig(x) => x.write(&mut b),
        Request::CheckWatches(x) | Request::RemoveWatches(x) => x.write(&mut b),
        Request::Auth(x) => x.write(&mut b),
        Request::SetWatches(x) => x.write(&mut b),
        Request::SetWatches2(x) => x.write(&mut b),
        Request::Sasl(x) => x.write(&mut b),
        Request::AddWatch(x) => x.write(&mut b),
        Request::Ping | Request::WhoAmI | Request::CloseSession => {}
    }
    b
}

/// Decodes a whole record (no trailing bytes) and re-encodes it.
fn roundtrip<T: Jute + std::fmt::Debug>(name: &str, body: &[u8]) -> T {
    let v = T::from_bytes(body).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&v.to_bytes()[..], body, "{name}: re-encoding differs");
    v
}

fn decode_request(name: &str, bytes: &[u8]) -> (RequestHeader, Request) {
    let (body, h) = RequestHeader::read(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let r = Request::decode(h.r#type, body).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = h.to_bytes();
    out.extend_from_slice(&encode_request(&r));
    assert_eq!(&out[..], bytes, "{name}: re-encoding differs");
    (h, r)
}

/// A decoded reply body, by the opcode of its request.
#[derive(Debug)]
enum Body {
    None,
    Create(CreateResponse),
    Create2(Create2Response),
    Stat(StatResponse),
    Data(GetDataResponse),
    Acl(GetAclResponse),
    Children(GetChildrenResponse),
    Children2(GetChildren2Response),
    Multi(MultiResponse),
    Count(GetAllChildrenNumberResponse),
    Error(ErrorResponse),
    WhoAmI(WhoAmIResponse),
}

fn decode_reply(name: &str, opcode: i32, bytes: &[u8]) -> (ReplyHeader, Body) {
    let (body, h) = ReplyHeader::read(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&h.to_bytes()[..], &bytes[..16], "{name}: header");
    if h.err != 0 {
        assert!(body.is_empty(), "{name}: an error reply has no body");
        return (h, Body::None);
    }
    let b = match opcode {
        op::CREATE | op::SYNC => Body::Create(roundtrip(name, body)),
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => Body::Create2(roundtrip(name, body)),
        op::EXISTS | op::SET_DATA | op::SET_ACL => Body::Stat(roundtrip(name, body)),
        op::GET_DATA => Body::Data(roundtrip(name, body)),
        op::GET_ACL => Body::Acl(roundtrip(name, body)),
        op::GET_CHILDREN | op::GET_EPHEMERALS => Body::Children(roundtrip(name, body)),
        op::GET_CHILDREN2 => Body::Children2(roundtrip(name, body)),
        op::MULTI | op::MULTI_READ => Body::Multi(roundtrip(name, body)),
        op::GET_ALL_CHILDREN_NUMBER => Body::Count(roundtrip(name, body)),
        op::ADD_WATCH => Body::Error(roundtrip(name, body)),
        op::WHO_AM_I => Body::WhoAmI(roundtrip(name, body)),
        op::DELETE
        | op::PING
        | op::CHECK_WATCHES
        | op::REMOVE_WATCHES
        | op::SET_WATCHES
        | op::SET_WATCHES2
        | op::AUTH
        | op::CLOSE_SESSION => {
            assert!(
                body.is_empty(),
                "{name}: op {opcode} replies without a body"
            );
            Body::None
        }
        other => panic!("{name}: no reply decoder for op {other}"),
    };
    (h, b)
}

#[test]
fn every_golden_frame_roundtrips() {
    let entries = manifest();
    assert!(entries.len() >= 100, "manifest too short");
    let mut ops_seen = BTreeSet::new();
    let mut kinds = HashMap::new();
    for e in &entries {
        let bytes = load(&e.file);
        *kinds.entry(e.kind.clone()).or_insert(0) += 1;
        match e.kind.as_str() {
            "connect_request" => {
                roundtrip::<ConnectRequest>(&e.file, &bytes);
            }
            "connect_response" => {
                roundtrip::<ConnectResponse>(&e.file, &bytes);
            }
            "request" => {
                let (h, _) = decode_request(&e.file, &bytes);
                assert_eq!(h.r#type, e.op, "{}", e.file);
                ops_seen.insert(h.r#type);
            }
            "reply" => {
                decode_reply(&e.file, e.op, &bytes);
            }
            "notification" => {
                let h = roundtrip::<ReplyHeader>(&e.file, &bytes[..16]);
                assert_eq!((h.xid, h.zxid, h.err), (-1, -1, 0), "{}", e.file);
                roundtrip::<WatcherEvent>(&e.file, &bytes[16..]);
            }
            other => panic!("unknown kind {other}"),
        }
    }
    // Every opcode a 3.8 client sends in normal use is covered.
    for o in [
        op::CREATE,
        op::DELETE,
        op::EXISTS,
        op::GET_DATA,
        op::SET_DATA,
        op::GET_ACL,
        op::SET_ACL,
        op::GET_CHILDREN,
        op::SYNC,
        op::PING,
        op::GET_CHILDREN2,
        op::MULTI,
        op::CREATE2,
        op::CHECK_WATCHES,
        op::REMOVE_WATCHES,
        op::CREATE_CONTAINER,
        op::CREATE_TTL,
        op::MULTI_READ,
        op::AUTH,
        op::SET_WATCHES,
        op::GET_EPHEMERALS,
        op::GET_ALL_CHILDREN_NUMBER,
        op::SET_WATCHES2,
        op::ADD_WATCH,
        op::WHO_AM_I,
        op::CLOSE_SESSION,
    ] {
        assert!(ops_seen.contains(&o), "no golden request for op {o}");
    }
    assert_eq!(kinds["connect_request"], 4);
    assert_eq!(kinds["connect_response"], 4);
    assert!(kinds["notification"] >= 5);
}

fn request(name: &str) -> (RequestHeader, Request) {
    decode_request(name, &load(&format!("{name}.request.bin")))
}

fn reply(name: &str, opcode: i32) -> (ReplyHeader, Body) {
    decode_reply(name, opcode, &load(&format!("{name}.reply.bin")))
}

#[test]
fn connect_frames() {
    let c = ConnectRequest::from_bytes(&load("connect.request.bin")).unwrap();
    assert_eq!(c.protocol_version, 0);
    assert_eq!(c.last_zxid_seen, 0);
    assert_eq!(c.time_out, 4000);
    assert_eq!(c.session_id, 0);
    assert_eq!(c.passwd, vec![0u8; 16]);
    assert_eq!(c.read_only, Some(false));
    let r = ConnectResponse::from_bytes(&load("connect.reply.bin")).unwrap();
    assert_eq!(r.time_out, 4000);
    assert_ne!(r.session_id, 0);
    assert_eq!(r.passwd.len(), 16);
    assert_eq!(r.read_only, Some(false));

    // The reconnect carries the session, its password and the last zxid seen.
    let rc = ConnectRequest::from_bytes(&load("reconnect.request.bin")).unwrap();
    assert_eq!(rc.session_id, r.session_id);
    assert_eq!(rc.passwd, r.passwd);
    assert!(rc.last_zxid_seen > 0);
    let rr = ConnectResponse::from_bytes(&load("reconnect.reply.bin")).unwrap();
    assert_eq!(rr.session_id, r.session_id);

    // A client that leaves out readOnly gets no readOnly byte back (36 bytes).
    let l = load("connect_legacy.request.bin");
    assert_eq!(l.len(), 44);
    assert_eq!(ConnectRequest::from_bytes(&l).unwrap().read_only, None);
    let lr = load("connect_legacy.reply.bin");
    assert_eq!(lr.len(), 36);
    assert_eq!(ConnectResponse::from_bytes(&lr).unwrap().read_only, None);
}

#[test]
fn create_family() {
    let (h, r) = request("create");
    assert_eq!((h.xid > 0, h.r#type), (true, op::CREATE));
    let Request::Create(1, c) = r else {
        panic!("{r:?}")
    };
    assert_eq!(c.path, "/g");
    assert_eq!(c.data.as_deref(), Some(&b"root"[..]));
    assert_eq!(c.flags, 0);
    assert_eq!(c.acl.len(), 1);
    assert_eq!(c.acl[0].perms, 31);
    assert_eq!(
        (c.acl[0].id.scheme.as_str(), c.acl[0].id.id.as_str()),
        ("world", "anyone")
    );
    let (rh, b) = reply("create", op::CREATE);
    assert_eq!(rh.xid, h.xid);
    assert!(rh.zxid > 0);
    let Body::Create(cr) = b else { panic!() };
    assert_eq!(cr.path, "/g");

    let (_, r) = request("create2");
    let Request::Create(15, c) = r else {
        panic!("{r:?}")
    };
    assert_eq!(c.path, "/g/c2");
    let (rh, b) = reply("create2", op::CREATE2);
    let Body::Create2(cr) = b else { panic!() };
    assert_eq!(cr.path, "/g/c2");
    assert_eq!(cr.stat.czxid, rh.zxid);
    assert_eq!(cr.stat.data_length, 3);
    assert_eq!(cr.stat.version, 0);

    // createContainer: op 19, flags 4, null data (length -1) kept as null.
    let (_, r) = request("create_container");
    let Request::Create(19, c) = r else {
        panic!("{r:?}")
    };
    assert_eq!(c.data, None);
    assert_eq!(c.flags, 4);
    let Body::Create2(cr) = reply("create_container", op::CREATE_CONTAINER).1 else {
        panic!()
    };
    // Clients never see the container marker: ZooKeeper reports owner 0.
    assert_eq!(cr.stat.ephemeral_owner, 0);

    let (_, r) = request("create_ttl");
    let Request::CreateTtl(c) = r else {
        panic!("{r:?}")
    };
    assert_eq!((c.path.as_str(), c.flags, c.ttl), ("/g/ttl", 5, 60000));
    let Body::Create2(cr) = reply("create_ttl", op::CREATE_TTL).1 else {
        panic!()
    };
    // ... nor the TTL one.
    assert_eq!(cr.stat.ephemeral_owner, 0);
    assert_eq!(cr.stat.data_length, 3);

    let Request::Create(1, c) = request("create_sequential").1 else {
        panic!()
    };
    assert_eq!(c.flags, 2);
    let Body::Create(cr) = reply("create_sequential", op::CREATE).1 else {
        panic!()
    };
    assert_eq!(cr.path, "/g/seq-0000000003");

    let Request::Create(1, c) = request("create_ephemeral").1 else {
        panic!()
    };
    assert_eq!(c.flags, 1);

    let (rh, b) = reply("create_nodeexists", op::CREATE);
    assert_eq!(rh.err, -110);
    assert!(matches!(b, Body::None));

    let Request::Create(1, c) = request("create_acl").1 else {
        panic!()
    };
    assert_eq!(c.acl[0].id.scheme, "digest");
    assert_eq!(c.acl[0].perms, 1);
}

#[test]
fn reads_and_errors() {
    let Request::Exists(x) = request("exists").1 else {
        panic!()
    };
    assert_eq!((x.path.as_str(), x.watch), ("/g/c2", true));
    let Body::Stat(s) = reply("exists", op::EXISTS).1 else {
        panic!()
    };
    assert_eq!(s.stat.data_length, 3);
    // exists on a missing node: NONODE with no body.
    let (h, b) = reply("exists_nonode", op::EXISTS);
    assert_eq!(h.err, -101);
    assert!(matches!(b, Body::None));

    let Body::Data(d) = reply("get_data", op::GET_DATA).1 else {
        panic!()
    };
    assert_eq!(d.data.as_deref(), Some(&b"root"[..]));
    // A node created with null data reads back as a null buffer (length -1).
    let Body::Data(d) = reply("get_data_null", op::GET_DATA).1 else {
        panic!()
    };
    assert_eq!(d.data, None);
    assert_eq!(reply("get_data_nonode", op::GET_DATA).0.err, -101);
    assert_eq!(reply("get_data_noauth", op::GET_DATA).0.err, -102);

    let Body::Children(c) = reply("get_children", op::GET_CHILDREN).1 else {
        panic!()
    };
    let mut names = c.children.clone();
    names.sort();
    assert!(names.contains(&"c2".to_string()), "{names:?}");
    let Body::Children2(c) = reply("get_children2", op::GET_CHILDREN2).1 else {
        panic!()
    };
    assert_eq!(c.stat.num_children as usize, c.children.len());

    let Body::Acl(a) = reply("get_acl", op::GET_ACL).1 else {
        panic!()
    };
    assert_eq!(a.acl.len(), 1);
    let Request::SetAcl(s) = request("set_acl").1 else {
        panic!()
    };
    assert_eq!(s.acl.len(), 2);
    assert_eq!(s.acl[1].id.scheme, "ip");
    assert_eq!(s.version, -1);
    let Body::Stat(s) = reply("set_acl", op::SET_ACL).1 else {
        panic!()
    };
    assert_eq!(s.stat.aversion, 1);

    let Request::SetData(s) = request("set_data").1 else {
        panic!()
    };
    assert_eq!((s.data.as_deref(), s.version), (Some(&b"new"[..]), -1));
    let Body::Stat(s) = reply("set_data", op::SET_DATA).1 else {
        panic!()
    };
    assert_eq!(s.stat.version, 1);
    assert_eq!(reply("set_data_badversion", op::SET_DATA).0.err, -103);

    let Request::Delete(d) = request("delete").1 else {
        panic!()
    };
    assert_eq!((d.path.as_str(), d.version), ("/g/missing", -1));
    assert_eq!(reply("delete", op::DELETE).0.err, 0);
    assert_eq!(reply("delete_nonode", op::DELETE).0.err, -101);
    assert_eq!(reply("delete_notempty", op::DELETE).0.err, -111);
    assert_eq!(reply("delete_badversion", op::DELETE).0.err, -103);

    let Body::Create(s) = reply("sync", op::SYNC).1 else {
        panic!()
    };
    assert_eq!(s.path, "/g");

    let Body::Children(e) = reply("get_ephemerals", op::GET_EPHEMERALS).1 else {
        panic!()
    };
    assert_eq!(e.children, vec!["/g/eph".to_string()]);
    let Body::Count(n) = reply("get_all_children_number", op::GET_ALL_CHILDREN_NUMBER).1 else {
        panic!()
    };
    assert!(n.total_number >= 6);
}

#[test]
fn multi_frames() {
    let Request::Multi(m) = request("multi").1 else {
        panic!()
    };
    let kinds: Vec<i32> = m.ops.iter().map(MultiOp::op_type).collect();
    assert_eq!(kinds, vec![1, 19, 21, 5, 13, 2]);
    let Body::Multi(r) = reply("multi", op::MULTI).1 else {
        panic!()
    };
    assert_eq!(r.results.len(), 6);
    assert!(matches!(&r.results[0], MultiResult::Create(c) if c.path == "/g/m1"));
    assert!(matches!(&r.results[1], MultiResult::Create2(c) if c.path == "/g/m2"));
    assert!(matches!(&r.results[2], MultiResult::Create2(c) if c.path == "/g/m3"));
    assert!(matches!(&r.results[3], MultiResult::SetData(s) if s.stat.version == 1));
    assert_eq!(r.results[4], MultiResult::Check);
    assert_eq!(r.results[5], MultiResult::Delete);

    // A failed multi: ReplyHeader.err is 0; OK before, the code, RUNTIMEINCONSISTENCY after.
    let (h, b) = reply("multi_failure", op::MULTI);
    assert_eq!(h.err, 0);
    let Body::Multi(r) = b else { panic!() };
    assert_eq!(
        r.results,
        vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2)
        ]
    );

    let (h, r) = request("multi_read");
    assert_eq!(h.r#type, op::MULTI_READ);
    let Request::MultiRead(m) = r else { panic!() };
    assert!(m.ops.iter().all(MultiOp::is_read));
    let Body::Multi(r) = reply("multi_read", op::MULTI_READ).1 else {
        panic!()
    };
    assert!(matches!(r.results[0], MultiResult::GetChildren(_)));
    assert!(
        matches!(&r.results[1], MultiResult::GetData(d) if d.data.as_deref() == Some(&b"new"[..]))
    );
    assert_eq!(r.results[2], MultiResult::Error(-101));
}

#[test]
fn watch_frames() {
    let Request::CheckWatches(w) = request("check_watches").1 else {
        panic!()
    };
    assert_eq!((w.path.as_str(), w.r#type), ("/g/c2", 2));
    let Request::RemoveWatches(w) = request("remove_watches").1 else {
        panic!()
    };
    assert_eq!((w.path.as_str(), w.r#type), ("/g/c2", 1));

    let Request::AddWatch(a) = request("add_watch").1 else {
        panic!()
    };
    assert_eq!((a.path.as_str(), a.mode), ("/g", 1));
    // addWatch answers with a 4-byte ErrorResponse body.
    let raw = load("add_watch.reply.bin");
    assert_eq!(raw.len(), 20);
    let Body::Error(e) = reply("add_watch", op::ADD_WATCH).1 else {
        panic!()
    };
    assert_eq!(e.err, 0);

    // 3.8.0's client replays watches with an ordinary xid (not -8).
    let (h, r) = request("set_watches");
    assert_eq!(h.r#type, op::SET_WATCHES);
    let Request::SetWatches(s) = r else { panic!() };
    assert!(s.relative_zxid > 0);
    let mut data = s.data_watches.clone();
    data.sort();
    assert_eq!(data, vec!["/g".to_string(), "/g/c2".to_string()]);
    assert_eq!(s.exist_watches, vec!["/g/missing".to_string()]);
    assert!(s.child_watches.contains(&"/g".to_string()));
    assert_eq!(reply("set_watches", op::SET_WATCHES).0.xid, h.xid);
    let (h, r) = request("set_watches2");
    let Request::SetWatches2(s) = r else { panic!() };
    assert_eq!(s.persistent_recursive_watches, vec!["/g".to_string()]);
    assert!(s.persistent_watches.is_empty());
    assert_eq!(reply("set_watches2", op::SET_WATCHES2).0.xid, h.xid);

    let n = load("notification.node_data_changed.1.conn2.bin");
    let ev = WatcherEvent::from_bytes(&n[16..]).unwrap();
    assert_eq!((ev.r#type, ev.state, ev.path.as_str()), (3, 3, "/g"));
    let n = load("notification.node_created.1.conn2.bin");
    let ev = WatcherEvent::from_bytes(&n[16..]).unwrap();
    assert_eq!((ev.r#type, ev.path.as_str()), (1, "/g/missing"));
    let n = load("notification.node_children_changed.1.conn2.bin");
    assert_eq!(WatcherEvent::from_bytes(&n[16..]).unwrap().r#type, 4);
    let n = load("notification.node_deleted.1.conn2.bin");
    assert_eq!(WatcherEvent::from_bytes(&n[16..]).unwrap().r#type, 2);
}

#[test]
fn session_frames() {
    let (h, r) = request("ping");
    assert_eq!((h.xid, h.r#type, r), (-2, op::PING, Request::Ping));
    let (rh, _) = reply("ping", op::PING);
    assert_eq!((rh.xid, rh.err), (-2, 0));

    let (h, r) = request("auth");
    assert_eq!(h.xid, -4);
    let Request::Auth(a) = r else { panic!() };
    assert_eq!(a.r#type, 0);
    assert_eq!(a.scheme, "digest");
    assert_eq!(a.auth.as_deref(), Some(&b"user:pass"[..]));
    let (rh, _) = reply("auth", op::AUTH);
    assert_eq!((rh.xid, rh.zxid, rh.err), (-4, 0, 0));
    assert_eq!(request("auth_replayed").0.xid, -4);

    assert_eq!(request("who_am_i").1, Request::WhoAmI);
    let Body::WhoAmI(w) = reply("who_am_i", op::WHO_AM_I).1 else {
        panic!()
    };
    assert_eq!(w.client_info.len(), 1);
    assert_eq!(w.client_info[0].auth_scheme, "ip");
    assert_eq!(w.client_info[0].user, "127.0.0.1");
    let Body::WhoAmI(w) = reply("who_am_i_auth", op::WHO_AM_I).1 else {
        panic!()
    };
    assert!(w
        .client_info
        .iter()
        .any(|c| c.auth_scheme == "digest" && c.user == "user"));

    let (h, r) = request("close_session");
    assert_eq!((h.r#type, r), (op::CLOSE_SESSION, Request::CloseSession));
    let (rh, b) = reply("close_session", op::CLOSE_SESSION);
    assert_eq!((rh.xid, rh.err), (h.xid, 0));
    assert!(matches!(b, Body::None));
}
