//! Linearizable sync in the leader's core: a client's sync waits for the leader machine's
//! round, its connection's later requests wait behind it in order, other connections do
//! not; without the mode, a sync is a read behind the session's writes, as in ZooKeeper.

use super::commit_tests::{connect, core_with, create, replies, request, Client, Driven};
use crate::config::Config;
use crate::proto::{op, PathRequest, PathWatchRequest, Request};

fn leader(linearizable: bool) -> Driven {
    let mut cfg = Config::default_standalone();
    cfg.linearizable_sync = linearizable;
    let mut core = core_with(cfg);
    core.start_leading(0x2_0000_0000);
    core
}

/// A connected session of the leader's (its createSession committed).
fn session(core: &mut Driven, conn: u64) -> Client {
    let mut c = connect(core, conn);
    let log = core.take_log();
    core.durable(log.last().expect("createSession proposed").0);
    assert_eq!(replies(core, &mut c).len(), 1, "connected");
    c
}

fn sync(core: &mut Driven, conn: u64, xid: i32) {
    let s = PathRequest { path: "/".into() };
    request(core, conn, xid, op::SYNC, Request::Sync(s));
}

fn exists(core: &mut Driven, conn: u64, xid: i32) {
    let get = PathWatchRequest {
        path: "/a".into(),
        watch: false,
    };
    request(core, conn, xid, op::EXISTS, Request::Exists(get));
}

#[test]
fn a_sync_waits_for_its_round_and_holds_only_its_connection() {
    let mut core = leader(true);
    let mut c = session(&mut core, 1);
    let mut other = session(&mut core, 2);
    request(
        &mut core,
        1,
        2,
        op::CREATE,
        Request::Create(op::CREATE, create("/a", 0)),
    );
    sync(&mut core, 1, 3);
    exists(&mut core, 1, 4);
    assert_eq!(core.take_local_syncs(), vec![0], "one round asked for");
    // Another session's writes and reads go on meanwhile.
    request(
        &mut core,
        2,
        7,
        op::CREATE,
        Request::Create(op::CREATE, create("/b", 0)),
    );
    let log = core.take_log();
    assert_eq!(log.len(), 2);
    core.durable(log[1].0);
    assert_eq!(replies(&mut core, &mut c), vec![(2, 0)], "the sync waits");
    exists(&mut core, 2, 8);
    assert_eq!(replies(&mut core, &mut other), vec![(7, 0), (8, 0)]);
    // The round confirmed: the sync, then what the connection sent after it, in order.
    core.local_sync_confirmed(0);
    assert_eq!(replies(&mut core, &mut c), vec![(3, 0), (4, 0)]);
    assert!(core.take_local_syncs().is_empty());
    // An unknown (or repeated) token does nothing.
    core.local_sync_confirmed(0);
    assert!(replies(&mut core, &mut c).is_empty());
}

#[test]
fn a_sync_behind_a_sync_parks_the_connection_again() {
    let mut core = leader(true);
    let mut c = session(&mut core, 1);
    sync(&mut core, 1, 1);
    exists(&mut core, 1, 2);
    sync(&mut core, 1, 3);
    exists(&mut core, 1, 4);
    assert_eq!(core.take_local_syncs(), vec![0]);
    core.local_sync_confirmed(0);
    // (no /a here: the exists answers NONODE)
    assert_eq!(replies(&mut core, &mut c), vec![(1, 0), (2, -101)]);
    assert_eq!(core.take_local_syncs(), vec![1], "the second sync's round");
    core.local_sync_confirmed(1);
    assert_eq!(replies(&mut core, &mut c), vec![(3, 0), (4, -101)]);
}

#[test]
fn without_the_mode_a_leader_answers_a_sync_as_a_read() {
    let mut core = leader(false);
    let mut c = session(&mut core, 1);
    sync(&mut core, 1, 1);
    exists(&mut core, 1, 2);
    assert!(core.take_local_syncs().is_empty());
    assert_eq!(replies(&mut core, &mut c), vec![(1, 0), (2, -101)]);
}
