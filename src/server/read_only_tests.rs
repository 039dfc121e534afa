//! Read-only mode in the core, as ZooKeeper 3.8's ReadOnlyZooKeeperServer answers:
//! refusals at connect, NOTREADONLY for state changes, reads from the tree, sessions of
//! its own that go when the mode ends, and what the operations interfaces say.

use tokio::sync::mpsc;

use super::commit_tests::{core, create, replies, request, Client, Driven};
use crate::jute::Jute;
use crate::proto::{
    op, ConnectRequest, ConnectResponse, PathRequest, PathWatchRequest, Request, SetDataRequest,
};
use crate::server::conn::Outlet;
use crate::server::core::{CoreMsg, Input, Out};
use crate::server::facts::OpsCmd;
use crate::watch::ConnId;

const NOT_READ_ONLY: i32 = -119;

/// A core that was electing and turned read-only, with localSessionsEnabled as given.
fn read_only_with(local_sessions: bool) -> Driven {
    let mut c = core();
    let mut cfg = (*c.cfg).clone();
    cfg.local_sessions_enabled = local_sessions;
    c.cfg = std::sync::Arc::new(cfg);
    c.stop_serving();
    assert!(c.start_read_only());
    c
}

/// Read-only with local sessions: the setting under which ZooKeeper 3.8 serves.
fn read_only() -> Driven {
    read_only_with(true)
}

/// Connects with the trailing readOnly flag `ro` (None: an old client without it) and
/// returns the connection's first output: the ConnectResponse, or None when the
/// connection was closed without one.
fn connect_as(
    core: &mut Driven,
    conn: u64,
    ro: Option<bool>,
    session_id: i64,
    passwd: Vec<u8>,
) -> (Option<ConnectResponse>, Client) {
    let (tx, rx) = mpsc::channel(1024);
    core.handle(CoreMsg::Connect {
        conn: conn as ConnId,
        req: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id,
            passwd,
            read_only: ro,
        },
        addr: "127.0.0.1:5000".parse().expect("an address"),
        out: Outlet::channel(tx),
    });
    let out = core.take_outbox();
    core.deliver(out);
    let mut c = Client {
        rx,
        connected: true,
    };
    let resp = match c.rx.try_recv() {
        Ok(Out::Frame(f)) => Some(ConnectResponse::read(&f[4..]).expect("a ConnectResponse").1),
        _ => None,
    };
    (resp, c)
}

fn closed(c: &mut Client) -> bool {
    std::iter::from_fn(|| c.rx.try_recv().ok()).any(|o| matches!(o, Out::Close))
}

fn exists(path: &str) -> Request {
    Request::Exists(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

#[test]
fn clients_that_did_not_ask_can_be_read_only_are_refused() {
    let mut core = read_only();
    for (conn, ro) in [(1, None), (2, Some(false))] {
        let (resp, mut c) = connect_as(&mut core, conn, ro, 0, vec![0; 16]);
        assert_eq!(resp, None, "no ConnectResponse for readOnly={ro:?}");
        assert!(closed(&mut c) || c.rx.try_recv().is_err());
    }
    assert!(core.conns.is_empty());
    assert_eq!(core.sessions.len(), 0);
}

#[test]
fn a_read_only_client_gets_a_read_only_session_without_a_txn() {
    let mut core = read_only();
    let zxid = core.tree().last_processed_zxid;
    let (resp, _c) = connect_as(&mut core, 1, Some(true), 0, vec![0; 16]);
    let resp = resp.expect("a ConnectResponse");
    assert_eq!(resp.read_only, Some(true));
    assert_eq!(resp.time_out, 30_000);
    assert_ne!(resp.session_id, 0);
    assert_eq!(
        resp.passwd,
        crate::session::session_password(resp.session_id)
    );
    assert!(core.take_log().is_empty(), "nothing logged");
    assert!(
        core.session_list()
            .iter()
            .all(|(id, _)| *id != resp.session_id),
        "no snapshot holds it"
    );
    assert_eq!(core.tree().last_processed_zxid, zxid, "the tree stays put");
}

#[test]
fn state_changes_and_sync_get_notreadonly_and_reads_are_served() {
    let mut core = read_only();
    let (_, mut c) = connect_as(&mut core, 1, Some(true), 0, vec![0; 16]);
    let create = Request::Create(op::CREATE, create("/w", 0));
    request(&mut core, 1, 1, op::CREATE, create);
    let set = SetDataRequest {
        path: "/zookeeper".into(),
        data: None,
        version: -1,
    };
    request(&mut core, 1, 2, op::SET_DATA, Request::SetData(set));
    let sync = PathRequest { path: "/".into() };
    request(&mut core, 1, 3, op::SYNC, Request::Sync(sync));
    request(&mut core, 1, 4, op::EXISTS, exists("/zookeeper"));
    request(&mut core, 1, 5, op::EXISTS, exists("/w"));
    // A state change is refused by its opcode, before its body is read.
    let bad = Request::decode(op::DELETE, &[0, 0]);
    assert!(bad.is_err());
    core.handle(CoreMsg::Input(Input::Request {
        conn: 1,
        xid: 6,
        op: op::DELETE,
        req: bad,
        body: bytes::Bytes::new(),
    }));
    request(&mut core, 1, -2, op::PING, Request::Ping);
    c.connected = true;
    assert_eq!(
        replies(&mut core, &mut c),
        vec![
            (1, NOT_READ_ONLY),
            (2, NOT_READ_ONLY),
            (3, NOT_READ_ONLY),
            (4, 0),
            (5, -101),
            (6, NOT_READ_ONLY),
            (-2, 0)
        ]
    );
    assert!(core.take_log().is_empty() && core.waiting_len() == 0);
}

#[test]
fn close_session_is_answered_without_a_txn_and_closes() {
    let mut core = read_only();
    let (resp, mut c) = connect_as(&mut core, 1, Some(true), 0, vec![0; 16]);
    let id = resp.expect("a session").session_id;
    request(&mut core, 1, 7, op::CLOSE_SESSION, Request::CloseSession);
    assert_eq!(replies(&mut core, &mut c), vec![(7, 0)]);
    assert!(core.take_log().is_empty());
    assert!(core.sessions.get(id).is_none());
}

#[test]
fn without_local_sessions_a_new_session_gets_a_bare_notreadonly_header() {
    let mut core = read_only_with(false);
    let (tx, mut rx) = mpsc::channel(16);
    core.handle(CoreMsg::Connect {
        conn: 1,
        req: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(true),
        },
        addr: "127.0.0.1:5000".parse().expect("an address"),
        out: Outlet::channel(tx),
    });
    let out = core.take_outbox();
    core.deliver(out);
    let Ok(Out::Frame(f)) = rx.try_recv() else {
        panic!("a frame");
    };
    // What ZooKeeper 3.8.0 sends: 16 bytes, xid 0, the tree's zxid, NOTREADONLY.
    assert_eq!(f.len(), 4 + 16);
    let (_, h) = crate::proto::ReplyHeader::read(&f[4..]).expect("a header");
    assert_eq!((h.xid, h.zxid, h.err), (0, 0, NOT_READ_ONLY));
    assert_eq!(core.sessions.len(), 0, "no session");
}

#[test]
fn reconnects_of_the_quorums_sessions_are_refused_local_ones_taken_back() {
    let mut core = core();
    let mut cfg = (*core.cfg).clone();
    cfg.local_sessions_enabled = true;
    core.cfg = std::sync::Arc::new(cfg);
    // A session of the quorum's, known before the election began.
    let quorum_session = 0x0100_0000_0000_0042;
    core.sessions.add(quorum_session, 30_000, 0);
    core.stop_serving();
    assert!(core.start_read_only());
    let pw = |id: i64| crate::session::session_password(id).to_vec();

    let (resp, _) = connect_as(&mut core, 1, Some(true), quorum_session, pw(quorum_session));
    assert_eq!(resp, None, "the quorum's session is refused");

    let (resp, _) = connect_as(&mut core, 2, Some(true), 0, vec![0; 16]);
    let mine = resp.expect("a session").session_id;
    core.handle(CoreMsg::Input(Input::Closed { conn: 2 }));
    let (resp, _) = connect_as(&mut core, 3, Some(true), mine, pw(mine));
    let resp = resp.expect("a local session is taken back");
    assert_eq!((resp.session_id, resp.read_only), (mine, Some(true)));

    // With local sessions a session nobody here knows is invalid.
    let stranger = 0x0300_0000_0000_0007;
    let (resp, mut c) = connect_as(&mut core, 4, Some(true), stranger, pw(stranger));
    let resp = resp.expect("an answer");
    assert_eq!((resp.time_out, resp.session_id), (0, 0));
    assert_eq!(resp.read_only, Some(true));
    assert!(closed(&mut c));
}

#[test]
fn without_local_sessions_an_unknown_session_is_taken_on_its_password() {
    let mut core = read_only_with(false);
    let pw = |id: i64| crate::session::session_password(id).to_vec();
    let stranger = 0x0300_0000_0000_0007;
    let (resp, mut c) = connect_as(&mut core, 1, Some(true), stranger, pw(stranger));
    let resp = resp.expect("an unknown session is taken");
    assert_eq!((resp.session_id, resp.read_only), (stranger, Some(true)));
    // It is not a local session: closing it would need the quorum.
    request(&mut core, 1, 3, op::CLOSE_SESSION, Request::CloseSession);
    assert_eq!(replies(&mut core, &mut c), vec![(3, NOT_READ_ONLY)]);
    core.handle(CoreMsg::Input(Input::Closed { conn: 1 }));
    let (resp, _) = connect_as(&mut core, 2, Some(true), stranger, pw(stranger));
    assert_eq!(resp.map(|r| r.session_id), Some(stranger), "and again");

    let other = 0x0300_0000_0000_0008;
    let (resp, mut c) = connect_as(&mut core, 3, Some(true), other, vec![1; 16]);
    let resp = resp.expect("an answer");
    assert_eq!((resp.time_out, resp.session_id), (0, 0), "a wrong password");
    assert!(closed(&mut c));
}

#[test]
fn the_end_of_the_mode_closes_its_clients_and_forgets_its_sessions() {
    let mut core = core();
    let mut cfg = (*core.cfg).clone();
    cfg.local_sessions_enabled = true;
    core.cfg = std::sync::Arc::new(cfg);
    let quorum_session = 0x0100_0000_0000_0042;
    core.sessions.add(quorum_session, 30_000, 0);
    core.stop_serving();
    assert!(core.start_read_only());
    let (resp, mut c) = connect_as(&mut core, 1, Some(true), 0, vec![0; 16]);
    let id = resp.expect("a session").session_id;
    core.stop_serving();
    let out = core.take_outbox();
    core.deliver(out);
    assert!(closed(&mut c));
    assert!(
        core.sessions.get(id).is_none(),
        "the read-only session is gone"
    );
    assert!(
        core.sessions.get(quorum_session).is_some(),
        "the quorum's stays"
    );
    assert!(!core.is_read_only() && !core.serving());
}

#[test]
fn only_a_server_that_serves_nobody_turns_read_only() {
    let mut standalone = core();
    assert!(!standalone.start_read_only());
    let mut following = core();
    following.start_following();
    assert!(!following.start_read_only());
    assert!(!following.is_read_only());
}

#[test]
fn operators_see_the_mode() {
    let mut core = read_only();
    let f = core.ops(OpsCmd::Facts);
    assert_eq!(f.server_state, "read-only");
    assert_eq!(crate::server::fourlw::isro(&f), "ro");
    let stats = crate::server::admin::commands::server_stats(&f, &core.cfg);
    assert!(stats
        .iter()
        .any(|(k, v)| *k == "read_only" && *v == crate::server::admin::json::J::Bool(true)));
    core.stop_serving();
    assert_eq!(
        crate::server::fourlw::isro(&core.ops(OpsCmd::Facts)),
        "null"
    );
    core.start_following();
    assert_eq!(crate::server::fourlw::isro(&core.ops(OpsCmd::Facts)), "rw");
    let standalone = super::commit_tests::core().ops(OpsCmd::Facts);
    assert_eq!(crate::server::fourlw::isro(&standalone), "rw", "standalone");
}
