//! The request paths per role: a follower forwards writes, syncs and createSession and
//! answers them when the leader's commit comes back; a leader preps what learners forward
//! and answers nobody for it; a server not serving closes new connections.

use super::commit_tests::{connect, core, create, replies, request, Client, Driven, CONNECTED};
use crate::jute::Jute;
use crate::proto::quorum::packet_type as pt;
use crate::proto::{
    op, CreateSessionTxn, CreateTxn, PathRequest, PathWatchRequest, Request, Txn, TxnEntry,
    TxnHeader,
};
use crate::quorum::Sid;
use crate::server::core::Out;

fn follower() -> Driven {
    let mut c = core();
    c.start_following();
    c
}

fn entry(client_id: i64, cxid: i32, zxid: i64, ty: i32, txn: Txn) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id,
            cxid,
            zxid,
            time: 1_700_000_000_000,
            r#type: ty,
        },
        txn,
        digest: None,
    }
}

fn create_txn(path: &str) -> Txn {
    Txn::Create(
        op::CREATE,
        CreateTxn {
            path: path.into(),
            data: None,
            acl: create(path, 0).acl,
            ephemeral: false,
            parent_cversion: 1,
        },
    )
}

/// A connected follower session: its createSession went to the leader and came back.
fn session(core: &mut Driven, conn: u64, zxid: i64) -> (Client, i64) {
    let mut c = connect(core, conn);
    let sent = core.take_to_leader();
    assert_eq!(sent.len(), 1, "the createSession is forwarded");
    let p = &sent[0];
    assert_eq!((p.r#type, p.zxid), (pt::REQUEST, -1));
    let data = p.data.clone().expect("REQUEST data");
    let id = i64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
    assert_eq!(
        &data[8..16],
        &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf6],
        "cxid 0, createSession"
    );
    assert_eq!(
        &data[16..],
        &30_000i32.to_be_bytes(),
        "the negotiated timeout"
    );
    assert!(
        replies(core, &mut c).is_empty(),
        "no ConnectResponse before the commit"
    );
    let txn = Txn::CreateSession(CreateSessionTxn { time_out: 30_000 });
    core.commit_from_leader(entry(id, 0, zxid, op::CREATE_SESSION, txn));
    assert_eq!(replies(core, &mut c), vec![(CONNECTED, 0)]);
    (c, id)
}

#[test]
fn a_follower_forwards_writes_and_answers_them_at_their_commit_in_order() {
    let mut core = follower();
    let (mut c, id) = session(&mut core, 1, 0x1_0000_0001);
    request(
        &mut core,
        1,
        7,
        op::CREATE,
        Request::Create(op::CREATE, create("/a", 0)),
    );
    let get = PathWatchRequest {
        path: "/a".into(),
        watch: false,
    };
    request(&mut core, 1, 8, op::EXISTS, Request::Exists(get));
    let sent = core.take_to_leader();
    assert_eq!(sent.len(), 1, "the read stays here");
    assert!(core.take_log().is_empty(), "a follower proposes nothing");
    assert!(
        replies(&mut core, &mut c).is_empty(),
        "the read waits behind the write"
    );

    // Another server's client's txn: applied, nobody here answered.
    core.commit_from_leader(entry(0x77, 3, 0x1_0000_0002, op::CREATE, create_txn("/b")));
    assert!(core.tree().get("/b").is_some());
    assert!(replies(&mut core, &mut c).is_empty());

    core.commit_from_leader(entry(id, 7, 0x1_0000_0003, op::CREATE, create_txn("/a")));
    assert_eq!(replies(&mut core, &mut c), vec![(7, 0), (8, 0)]);
    assert_eq!(core.tree().last_processed_zxid, 0x1_0000_0003);
}

#[test]
fn a_follower_answers_a_sync_when_the_leader_says_so() {
    let mut core = follower();
    let (mut c, _) = session(&mut core, 1, 0x1_0000_0001);
    let sync = PathRequest { path: "/".into() };
    request(&mut core, 1, 5, op::SYNC, Request::Sync(sync));
    let sent = core.take_to_leader();
    assert_eq!(sent.len(), 1);
    assert!(replies(&mut core, &mut c).is_empty());
    core.sync_done();
    assert_eq!(replies(&mut core, &mut c), vec![(5, 0)]);
}

#[test]
fn a_follower_never_expires_sessions_and_reports_touches() {
    let mut core = follower();
    let (_c, id) = session(&mut core, 1, 0x1_0000_0001);
    request(&mut core, 1, 1, op::PING, Request::Ping);
    let touched = core.take_touched();
    assert_eq!(touched, vec![(id, 30_000)]);
    assert!(core.take_touched().is_empty(), "drained");
    assert!(!core.expires_sessions());
}

#[test]
fn a_dropped_forward_does_not_hold_later_answers_for_ever() {
    let mut core = follower();
    let (mut c, id) = session(&mut core, 1, 0x1_0000_0001);
    request(
        &mut core,
        1,
        1,
        op::CREATE,
        Request::Create(op::CREATE, create("/x", 0)),
    );
    request(
        &mut core,
        1,
        2,
        op::CREATE,
        Request::Create(op::CREATE, create("/y", 0)),
    );
    core.commit_from_leader(entry(id, 2, 0x1_0000_0002, op::CREATE, create_txn("/y")));
    assert_eq!(replies(&mut core, &mut c), vec![(2, 0)]);
}

#[test]
fn a_leader_preps_learner_requests_and_answers_no_client() {
    let mut core = core();
    core.start_leading(0x2_0000_0000);
    let from = Sid(2);
    let session = 0x0200_0000_0000_0001;
    core.learner_request(
        from,
        session,
        0,
        op::CREATE_SESSION,
        &30_000i32.to_be_bytes(),
        vec![],
    );
    let body = create("/l", 0).to_bytes();
    core.learner_request(from, session, 4, op::CREATE, &body, vec![]);
    core.learner_request(from, session, 5, op::SYNC, &[], vec![]);
    let log = core.take_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].0, 0x2_0000_0001, "the new epoch's first zxid");
    let e = TxnEntry::from_bytes(&log[1].1).expect("a txn");
    assert_eq!((e.header.client_id, e.header.cxid), (session, 4));
    assert_eq!(core.take_learner_syncs(), vec![from]);
    core.durable(log[1].0);
    assert!(core.tree().get("/l").is_some());
    assert!(
        core.take_outbox().is_empty(),
        "the learner answers its client"
    );
    assert!(
        core.revalidate(Sid(3), session, 30_000),
        "and learner 3 owns it now"
    );
    assert!(!core.revalidate(from, 0x99, 30_000));
    // A write of the session through its old learner: SESSIONMOVED, as an error txn.
    core.learner_request(
        from,
        session,
        6,
        op::CREATE,
        &create("/m", 0).to_bytes(),
        vec![],
    );
    let log = core.take_log();
    let e = TxnEntry::from_bytes(&log[0].1).expect("a txn");
    assert_eq!(e.header.r#type, op::ERROR);
    assert!(
        matches!(e.txn, Txn::Error(ref t) if t.err == -118),
        "{:?}",
        e.txn
    );
}

#[test]
fn a_follower_asks_the_leader_before_a_session_reattaches() {
    let mut core = follower();
    let (_c, id) = session(&mut core, 1, 0x1_0000_0001);
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    core.handle(crate::server::core::CoreMsg::Connect {
        conn: 2,
        req: crate::proto::ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: id,
            passwd: crate::session::session_password(id).to_vec(),
            read_only: None,
        },
        addr: "127.0.0.1:5001".parse().expect("an address"),
        out: crate::server::conn::Outlet::channel(tx),
    });
    let sent = core.take_to_leader();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].r#type, pt::REVALIDATE);
    let out = core.take_outbox();
    core.deliver(out);
    assert!(rx.try_recv().is_err(), "no answer before the leader's");
    core.revalidated(id, true);
    let out = core.take_outbox();
    core.deliver(out);
    assert!(
        matches!(rx.try_recv(), Ok(Out::Frame(_))),
        "the ConnectResponse"
    );
}

#[test]
fn a_server_not_serving_closes_new_connections() {
    let mut core = core();
    core.stop_serving();
    let mut c = connect(&mut core, 1);
    let out = core.take_outbox();
    core.deliver(out);
    assert!(matches!(c.rx.try_recv(), Ok(Out::Close) | Err(_)));
    assert!(core.take_log().is_empty(), "no session proposed");
    assert!(replies(&mut core, &mut c).is_empty());
}

#[test]
fn a_follower_counts_a_leader_digest_its_tree_does_not_match() {
    let mut core = follower();
    let mut probe = crate::tree::DataTree::new(false);
    let mut e = entry(0x77, 1, 0x1_0000_0001, op::CREATE, create_txn("/d"));
    crate::pipeline::apply::apply(&mut probe, &e.header, &e.txn);
    e.digest = Some(crate::proto::TxnDigest {
        version: 2,
        tree_digest: 12345,
    });
    core.commit_from_leader(e);
    assert_eq!(core.ops.digest_mismatches, 1);
    let mut e = entry(0x77, 2, 0x1_0000_0002, op::CREATE, create_txn("/e"));
    crate::pipeline::apply::apply(&mut probe, &e.header, &e.txn);
    e.digest = Some(crate::proto::TxnDigest {
        version: 2,
        tree_digest: probe.digest(),
    });
    core.commit_from_leader(e);
    assert_eq!(core.ops.digest_mismatches, 1, "the right digest matches");
}

#[test]
fn a_follower_answers_a_whole_request_error_with_the_bare_error() {
    let mut core = follower();
    let (mut c, id) = session(&mut core, 1, 0x1_0000_0001);
    let multi = crate::proto::MultiRequest { ops: Vec::new() };
    request(&mut core, 1, 9, op::MULTI, Request::Multi(multi));
    assert_eq!(core.take_to_leader().len(), 1);
    // The leader could not read the multi: ErrorTxn(MARSHALLINGERROR) for the request.
    let err = Txn::Error(crate::proto::ErrorTxn { err: -5 });
    core.commit_from_leader(entry(id, 9, 0x1_0000_0002, op::ERROR, err));
    let out = core.take_outbox();
    core.deliver(out);
    let Ok(Out::Frame(f)) = c.rx.try_recv() else {
        panic!("a reply");
    };
    assert_eq!(f.len(), 4 + 16, "a bare header: {f:?}");
    let (_, h) = crate::proto::ReplyHeader::read(&f[4..]).expect("header");
    assert_eq!((h.xid, h.err), (9, -5));
}

#[test]
fn a_follower_answers_another_sessions_read_while_a_write_waits() {
    let mut core = follower();
    let (mut a, _) = session(&mut core, 1, 0x1_0000_0001);
    let (mut b, _) = session(&mut core, 2, 0x1_0000_0002);
    request(
        &mut core,
        1,
        1,
        op::CREATE,
        Request::Create(op::CREATE, create("/w", 0)),
    );
    let get = |p: &str| {
        Request::Exists(PathWatchRequest {
            path: p.into(),
            watch: false,
        })
    };
    request(&mut core, 2, 5, op::EXISTS, get("/"));
    request(&mut core, 1, 2, op::EXISTS, get("/"));
    assert_eq!(
        replies(&mut core, &mut b),
        vec![(5, 0)],
        "b has nothing waiting"
    );
    assert!(
        replies(&mut core, &mut a).is_empty(),
        "a's read waits for a's write"
    );
    assert!(core.waiting.holds(1) && !core.waiting.holds(2));
}
