//! Integration tests driven by an independent Rust ZooKeeper client
//! (`zookeeper-client`).
//!
//! Without `ZK_TEST_ADDR` every test starts its own in-process Ferrokeeper;
//! with `ZK_TEST_ADDR=host:port` they run against that server (which must have
//! `zookeeper.extendedTypesEnabled=true`, tickTime=2000 and a short
//! `znode.container.checkIntervalMs`), each under its own base path; with
//! `ZK_TEST_ADDR=host:port,host:port,...` against that ensemble: each test's
//! sessions share one of its servers, chosen by the test's name, so the tests
//! spread over the ensemble (ZooKeeper orders one session's reads after another
//! session's writes only on one server; across servers that takes a `sync`, which
//! the expectations here do not make, as the Java suite's sessions share one). Every
//! expectation here holds on Apache ZooKeeper 3.8.

mod zk_client_support;

use std::time::Duration;

use futures::FutureExt as _;
use zk_client_support::{delete_tree, digest_id, env, eventually, within, Proxy, SOON};
use zookeeper_client::{
    self as zk, Acl, Acls, AddWatchMode, AuthId, CreateMode, CreateOptions, Error, EventType,
    MultiReadResult, MultiWriteError, MultiWriteResult, Permission, SessionState, Stat,
    WatchedEvent,
};

/// Reaping of TTL/container nodes and session expiry can take a few check
/// intervals / ticks.
const SLOW: Duration = Duration::from_secs(15);

fn open() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn mode(m: CreateMode) -> CreateOptions<'static> {
    m.with_acls(Acls::anyone_all())
}

fn ttl(m: CreateMode, ms: u64) -> CreateOptions<'static> {
    m.with_acls(Acls::anyone_all())
        .with_ttl(Duration::from_millis(ms))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn assert_event(ev: &WatchedEvent, ty: EventType, path: &str) {
    assert_eq!(
        (ev.event_type, ev.path.as_str(), ev.session_state),
        (ty, path, SessionState::SyncConnected),
        "unexpected event {ev:?}"
    );
}

/// Notification zxid: -1 on 3.8, the triggering txn's zxid on 3.9.
fn assert_event_zxid(ev: &WatchedEvent, txn_zxid: i64) {
    assert!(
        ev.zxid == WatchedEvent::NO_ZXID || ev.zxid == txn_zxid,
        "event zxid {} is neither -1 nor the txn zxid {txn_zxid}",
        ev.zxid
    );
}

async fn next_event(w: &mut zk::PersistentWatcher) -> WatchedEvent {
    within(SOON, "persistent watch event", w.changed()).await
}

/// A fresh node's own stat fields (zxids/times are checked for consistency).
fn assert_fresh(stat: &Stat, data_len: i32, owner: i64) {
    assert_eq!(stat.version, 0, "{stat:?}");
    assert_eq!(stat.cversion, 0, "{stat:?}");
    assert_eq!(stat.aversion, 0, "{stat:?}");
    assert_eq!(stat.num_children, 0, "{stat:?}");
    assert_eq!(stat.data_length, data_len, "{stat:?}");
    assert_eq!(stat.ephemeral_owner, owner, "{stat:?}");
    assert_eq!(stat.czxid, stat.mzxid, "{stat:?}");
    assert_eq!(stat.czxid, stat.pzxid, "{stat:?}");
    assert_eq!(stat.ctime, stat.mtime, "{stat:?}");
    assert!(stat.czxid > 0 && stat.ctime > 0, "{stat:?}");
}

// ---------------------------------------------------------------- create modes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_persistent_and_stat() {
    let env = env("create_persistent").await;
    let c = env.client().await;
    let p = env.path("p");
    let (stat, seq) = c.create(&p, b"hello", &open()).await.unwrap();
    assert_eq!(seq.into_i64(), -1);
    assert_fresh(&stat, 5, 0);

    let (data, got) = c.get_data(&p).await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(got, stat);
    assert_eq!(c.check_stat(&p).await.unwrap(), Some(stat));

    // Empty data.
    let (s2, _) = c.create(&env.path("empty"), b"", &open()).await.unwrap();
    assert_fresh(&s2, 0, 0);
    assert!(s2.czxid > stat.czxid);
    assert_eq!(c.get_data(&env.path("empty")).await.unwrap().0, b"");

    // Same path again.
    assert_eq!(
        c.create(&p, b"x", &open()).await.unwrap_err(),
        Error::NodeExists
    );
    // Missing parent.
    assert_eq!(
        c.create(&env.path("nope/child"), b"", &open())
            .await
            .unwrap_err(),
        Error::NoNode
    );
    // Default ACL is what we asked for.
    let (acl, astat) = c.get_acl(&p).await.unwrap();
    assert_eq!(acl, vec![Acl::new(Permission::ALL, AuthId::anyone())]);
    assert_eq!(astat, stat);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_ephemeral() {
    let env = env("create_ephemeral").await;
    let c = env.client().await;
    let other = env.client().await;
    let e = env.path("e");
    let (stat, _) = c
        .create(&e, b"eph", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_fresh(&stat, 3, c.session_id().0);
    assert_ne!(c.session_id().0, 0);
    assert_ne!(c.session_id().0, other.session_id().0);
    // Another session sees the same owner.
    let seen = other.check_stat(&e).await.unwrap().unwrap();
    assert_eq!(seen.ephemeral_owner, c.session_id().0);

    // Ephemerals cannot have children, whoever asks.
    for client in [&c, &other] {
        assert_eq!(
            client
                .create(&format!("{e}/child"), b"", &open())
                .await
                .unwrap_err(),
            Error::NoChildrenForEphemerals
        );
    }
    assert_eq!(
        c.create(&format!("{e}/child"), b"", &mode(CreateMode::Ephemeral))
            .await
            .unwrap_err(),
        Error::NoChildrenForEphemerals
    );
    // Exists is checked before the ephemeral-parent rule.
    assert_eq!(
        other
            .create(&e, b"", &mode(CreateMode::Ephemeral))
            .await
            .unwrap_err(),
        Error::NodeExists
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_sequential_names_follow_parent_cversion() {
    let env = env("create_sequential").await;
    let c = env.client().await;
    let q = env.path("seq");
    c.create(&q, b"", &open()).await.unwrap();

    // 1st create: stored cversion 0 -> suffix 0000000000.
    let a = format!("{q}/a-");
    let (s, seq) = c
        .create(&a, b"", &mode(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 0);
    assert_eq!(seq.to_string(), "0000000000");
    assert_fresh(&s, 0, 0);

    // A plain create bumps the counter too.
    c.create(&format!("{q}/plain"), b"", &open()).await.unwrap();

    // 3rd create: ephemeral sequential gets 2 and is owned by the session.
    let (s, seq) = c
        .create(
            &format!("{q}/b-"),
            b"e",
            &mode(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 2);
    assert_fresh(&s, 1, c.session_id().0);

    // Deletes do not advance the counter.
    c.delete(&format!("{q}/plain"), None).await.unwrap();

    // A trailing slash is allowed with a sequential flag.
    let (_, seq) = c
        .create(
            &format!("{q}/"),
            b"",
            &mode(CreateMode::PersistentSequential),
        )
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 3);

    // Same prefix again: counter still increases (4).
    let (_, seq) = c
        .create(&a, b"", &mode(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 4);

    let (children, stat) = c.get_children(&q).await.unwrap();
    assert_eq!(
        sorted(children),
        vec!["0000000003", "a-0000000000", "a-0000000004", "b-0000000002"]
    );
    // 5 creates + 1 delete.
    assert_eq!(stat.cversion, 6);
    assert_eq!(stat.num_children, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_removed_after_last_child_goes() {
    let env = env("container").await;
    let c = env.client().await;
    let used = env.path("used");
    let never = env.path("never_used");
    let (s, _) = c
        .create(&used, b"c", &mode(CreateMode::Container))
        .await
        .unwrap();
    assert_fresh(&s, 1, 0);
    let (s, _) = c
        .create(&never, b"", &mode(CreateMode::Container))
        .await
        .unwrap();
    assert_fresh(&s, 0, 0);

    // Containers are not ephemeral: children (even ephemeral ones) are fine.
    let child = format!("{used}/child");
    c.create(&child, b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (_, w) = c.check_and_watch_stat(&used).await.unwrap();
    // While it has a child, the container stays.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(c.check_stat(&used).await.unwrap().is_some());

    c.delete(&child, None).await.unwrap();
    let ev = within(SLOW, "container deletion", w.changed()).await;
    assert_event(&ev, EventType::NodeDeleted, &used);
    assert_eq!(c.check_stat(&used).await.unwrap(), None);
    // Never-used containers are not reaped (maxNeverUsedIntervalMs=0).
    assert!(c.check_stat(&never).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_nodes_expire_unless_they_have_children() {
    let env = env("ttl").await;
    let c = env.client().await;
    let t = env.path("t");
    let kept = env.path("kept");
    let (s, _) = c
        .create(&t, b"ttl", &ttl(CreateMode::Persistent, 500))
        .await
        .unwrap();
    // TTL nodes report ephemeralOwner 0.
    assert_fresh(&s, 3, 0);
    let (s, seq) = c
        .create(
            &format!("{}/", env.base),
            b"",
            &ttl(CreateMode::PersistentSequential, 500),
        )
        .await
        .unwrap();
    assert_fresh(&s, 0, 0);
    let tseq = format!("{}/{seq}", env.base);
    c.create(&kept, b"", &ttl(CreateMode::Persistent, 500))
        .await
        .unwrap();
    // TTL nodes are not ephemeral: they may have children.
    c.create(&format!("{kept}/child"), b"", &open())
        .await
        .unwrap();

    let (_, w1) = c.check_and_watch_stat(&t).await.unwrap();
    let (_, w2) = c.check_and_watch_stat(&tseq).await.unwrap();
    assert_event(
        &within(SLOW, "ttl expiry", w1.changed()).await,
        EventType::NodeDeleted,
        &t,
    );
    assert_event(
        &within(SLOW, "sequential ttl expiry", w2.changed()).await,
        EventType::NodeDeleted,
        &tseq,
    );
    // The one with a child survives...
    assert!(c.check_stat(&kept).await.unwrap().is_some());
    // ...until the child goes.
    let (_, w3) = c.check_and_watch_stat(&kept).await.unwrap();
    c.delete(&format!("{kept}/child"), None).await.unwrap();
    assert_event(
        &within(SLOW, "ttl expiry after child removal", w3.changed()).await,
        EventType::NodeDeleted,
        &kept,
    );
}

// --------------------------------------------------------------- stat & data

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_stat_tracks_children() {
    let env = env("parent_stat").await;
    let c = env.client().await;
    let q = env.path("q");
    let (q0, _) = c.create(&q, b"parent", &open()).await.unwrap();

    let (c1, _) = c.create(&format!("{q}/c1"), b"", &open()).await.unwrap();
    let s = c.check_stat(&q).await.unwrap().unwrap();
    assert_eq!(
        (s.cversion, s.num_children, s.pzxid),
        (1, 1, c1.czxid),
        "{s:?}"
    );
    // Child changes leave the parent's data fields alone.
    assert_eq!(
        (s.version, s.mzxid, s.mtime, s.czxid),
        (0, q0.mzxid, q0.mtime, q0.czxid)
    );

    let (c2, _) = c
        .create(&format!("{q}/c2"), b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let s = c.check_stat(&q).await.unwrap().unwrap();
    assert_eq!((s.cversion, s.num_children, s.pzxid), (2, 2, c2.czxid));

    // Setting a child's data does not touch the parent.
    c.set_data(&format!("{q}/c1"), b"x", None).await.unwrap();
    assert_eq!(c.check_stat(&q).await.unwrap().unwrap(), s);

    c.delete(&format!("{q}/c1"), None).await.unwrap();
    let s = c.check_stat(&q).await.unwrap().unwrap();
    assert_eq!((s.cversion, s.num_children), (3, 1));
    assert!(s.pzxid > c2.czxid, "delete must move pzxid: {s:?}");
    let pzxid_after_delete = s.pzxid;

    // setData: version, mzxid, mtime, dataLength; children fields unchanged.
    let s = c.set_data(&q, b"new data", Some(0)).await.unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(s.data_length, 8);
    assert!(s.mzxid > pzxid_after_delete);
    assert!(s.mtime >= q0.mtime);
    assert_eq!(
        (
            s.czxid,
            s.ctime,
            s.cversion,
            s.num_children,
            s.pzxid,
            s.aversion
        ),
        (q0.czxid, q0.ctime, 3, 1, pzxid_after_delete, 0)
    );

    // setACL: aversion only; mzxid/mtime/version unchanged.
    let acl = [Acl::new(Permission::ALL, AuthId::anyone())];
    let s2 = c.set_acl(&q, &acl, Some(0)).await.unwrap();
    assert_eq!(s2.aversion, 1);
    assert_eq!((s2.version, s2.mzxid, s2.mtime), (1, s.mzxid, s.mtime));
    assert_eq!(
        c.set_acl(&q, &acl, Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    assert_eq!(c.set_acl(&q, &acl, None).await.unwrap().aversion, 2);
    assert_eq!(c.set_acl(&q, &acl, Some(2)).await.unwrap().aversion, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_with_versions() {
    let env = env("get_set").await;
    let c = env.client().await;
    let p = env.path("v");
    let (s0, _) = c.create(&p, b"0", &open()).await.unwrap();

    let s1 = c.set_data(&p, b"one", Some(0)).await.unwrap();
    assert_eq!((s1.version, s1.data_length), (1, 3));
    assert!(s1.mzxid > s0.mzxid);
    assert_eq!(
        c.set_data(&p, b"stale", Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    assert_eq!(
        c.set_data(&p, b"future", Some(7)).await.unwrap_err(),
        Error::BadVersion
    );
    // Data unchanged after failed sets.
    assert_eq!(c.get_data(&p).await.unwrap(), (b"one".to_vec(), s1));

    // -1 (None) matches any version.
    let s2 = c.set_data(&p, b"", None).await.unwrap();
    assert_eq!((s2.version, s2.data_length), (2, 0));
    let s3 = c.set_data(&p, b"three", Some(2)).await.unwrap();
    assert_eq!(s3.version, 3);
    assert_eq!(c.get_data(&p).await.unwrap(), (b"three".to_vec(), s3));

    // Binary data round-trips.
    let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let s4 = c.set_data(&p, &blob, Some(3)).await.unwrap();
    assert_eq!(s4.data_length, 70_000);
    assert_eq!(c.get_data(&p).await.unwrap().0, blob);

    // Missing nodes.
    let missing = env.path("missing");
    assert_eq!(
        c.set_data(&missing, b"x", None).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(
        c.set_data(&missing, b"x", Some(0)).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(c.get_data(&missing).await.unwrap_err(), Error::NoNode);
    assert_eq!(c.check_stat(&missing).await.unwrap(), None);
    assert_eq!(
        c.check_stat(&env.path("missing/deeper")).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_errors_and_versions() {
    let env = env("delete").await;
    let c = env.client().await;
    let d = env.path("d");
    c.create(&d, b"", &open()).await.unwrap();
    c.create(&format!("{d}/kid"), b"", &open()).await.unwrap();

    assert_eq!(
        c.delete(&env.path("missing"), None).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(
        c.delete(&env.path("missing/deeper"), None)
            .await
            .unwrap_err(),
        Error::NoNode
    );
    assert_eq!(c.delete(&d, None).await.unwrap_err(), Error::NotEmpty);
    // Version is checked before emptiness.
    assert_eq!(c.delete(&d, Some(3)).await.unwrap_err(), Error::BadVersion);

    c.set_data(&format!("{d}/kid"), b"1", None).await.unwrap();
    assert_eq!(
        c.delete(&format!("{d}/kid"), Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    c.delete(&format!("{d}/kid"), Some(1)).await.unwrap();
    assert_eq!(
        c.delete(&format!("{d}/kid"), Some(1)).await.unwrap_err(),
        Error::NoNode
    );
    c.delete(&d, Some(0)).await.unwrap();
    assert_eq!(c.check_stat(&d).await.unwrap(), None);
}

// ------------------------------------------------------------------ listing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_counts_and_ephemerals() {
    let env = env("children").await;
    let c = env.client().await;
    let other = env.client().await;
    let b = &env.base;

    assert!(c.list_children(b).await.unwrap().is_empty());
    for p in ["a", "a/x", "a/x/y", "b", "ab"] {
        c.create(&env.path(p), b"", &open()).await.unwrap();
    }
    c.create(&env.path("a/e1"), b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create(&env.path("a/x/e2"), b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create(&env.path("ab/e3"), b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create(&env.path("b/e4"), b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    // Another session's ephemeral is not ours.
    other
        .create(&env.path("a/theirs"), b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();

    assert_eq!(sorted(c.list_children(b).await.unwrap()), ["a", "ab", "b"]);
    let (kids, stat) = c.get_children(&env.path("a")).await.unwrap();
    assert_eq!(sorted(kids), ["e1", "theirs", "x"]);
    assert_eq!((stat.num_children, stat.cversion), (3, 3));
    assert!(c
        .list_children(&env.path("a/x/y"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        c.list_children(&env.path("zz")).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(
        c.get_children(&env.path("zz")).await.unwrap_err(),
        Error::NoNode
    );

    // getAllChildrenNumber counts all descendants, not the node itself.
    assert_eq!(c.count_descendants_number(b).await.unwrap(), 10);
    assert_eq!(c.count_descendants_number(&env.path("a")).await.unwrap(), 5);
    assert_eq!(
        c.count_descendants_number(&env.path("a/x/y"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        c.count_descendants_number(&env.path("zz"))
            .await
            .unwrap_err(),
        Error::NoNode
    );

    // getEphemerals: this session only, plain string-prefix match.
    let all_mine = [
        env.path("a/e1"),
        env.path("a/x/e2"),
        env.path("ab/e3"),
        env.path("b/e4"),
    ];
    assert_eq!(sorted(c.list_ephemerals(b).await.unwrap()), all_mine);
    assert_eq!(
        sorted(c.list_ephemerals(&env.path("a")).await.unwrap()),
        all_mine[..3]
    );
    assert_eq!(
        sorted(c.list_ephemerals(&env.path("a/x")).await.unwrap()),
        all_mine[1..2]
    );
    assert_eq!(
        c.list_ephemerals(&env.path("a/x/e2")).await.unwrap(),
        [env.path("a/x/e2")]
    );
    assert!(c
        .list_ephemerals(&env.path("nothing-here"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        other.list_ephemerals(b).await.unwrap(),
        [env.path("a/theirs")]
    );
    // "/" means every ephemeral of the session.
    let everything = c.list_ephemerals("/").await.unwrap();
    for p in &all_mine {
        assert!(everything.contains(p), "{p} missing from {everything:?}");
    }
    assert!(!everything.contains(&env.path("a/theirs")));
}

// -------------------------------------------------------------------- multi

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_success() {
    let env = env("multi_ok").await;
    let c = env.client().await;
    let m = env.path("m");
    c.create(&m, b"", &open()).await.unwrap();

    let a = format!("{m}/a");
    let mut w = c.new_multi_writer();
    w.add_create(&a, b"1", &open()).unwrap();
    w.add_create(
        &format!("{m}/s-"),
        b"",
        &mode(CreateMode::PersistentSequential),
    )
    .unwrap();
    w.add_set_data(&a, b"22", Some(0)).unwrap();
    w.add_check_version(&a, 1).unwrap();
    w.add_create(&format!("{m}/b"), b"", &open()).unwrap();
    w.add_delete(&format!("{m}/b"), Some(0)).unwrap();
    w.add_create(
        &format!("{m}/s-"),
        b"",
        &mode(CreateMode::EphemeralSequential),
    )
    .unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 7, "{results:?}");

    let (a_data, a_stat) = c.get_data(&a).await.unwrap();
    assert_eq!(a_data, b"22");
    assert_eq!(a_stat.version, 1);
    // One zxid for the whole multi.
    assert_eq!(a_stat.czxid, a_stat.mzxid);

    let create_path = |r: &MultiWriteResult, zxid: i64| match r {
        MultiWriteResult::Create { path, stat } => {
            if !stat.is_invalid() {
                assert_eq!(stat.czxid, zxid, "{stat:?}");
            }
            path.clone()
        }
        other => panic!("expected a create result, got {other:?}"),
    };
    assert_eq!(create_path(&results[0], a_stat.czxid), a);
    // Later ops see the cversion bump of earlier ones.
    assert_eq!(
        create_path(&results[1], a_stat.czxid),
        format!("{m}/s-0000000001")
    );
    match &results[2] {
        MultiWriteResult::SetData { stat } => assert_eq!(*stat, a_stat),
        other => panic!("expected setData result, got {other:?}"),
    }
    assert_eq!(results[3], MultiWriteResult::Check);
    assert_eq!(create_path(&results[4], a_stat.czxid), format!("{m}/b"));
    assert_eq!(results[5], MultiWriteResult::Delete);
    assert_eq!(
        create_path(&results[6], a_stat.czxid),
        format!("{m}/s-0000000003")
    );

    assert_eq!(
        sorted(c.list_children(&m).await.unwrap()),
        ["a", "s-0000000001", "s-0000000003"]
    );
    let s = c
        .check_stat(&format!("{m}/s-0000000003"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.ephemeral_owner, c.session_id().0);
    let ms = c.check_stat(&m).await.unwrap().unwrap();
    assert_eq!((ms.cversion, ms.num_children), (5, 3));
    assert_eq!(ms.pzxid, a_stat.czxid);

    // Containers and TTL nodes inside multi.
    let mut w = c.new_multi_writer();
    w.add_create(&format!("{m}/cont"), b"", &mode(CreateMode::Container))
        .unwrap();
    w.add_create(
        &format!("{m}/ttl"),
        b"",
        &ttl(CreateMode::Persistent, 60_000),
    )
    .unwrap();
    let results = w.commit().await.unwrap();
    let cont = c.check_stat(&format!("{m}/cont")).await.unwrap().unwrap();
    assert_eq!(create_path(&results[0], cont.czxid), format!("{m}/cont"));
    assert_eq!(create_path(&results[1], cont.czxid), format!("{m}/ttl"));
    for p in ["cont", "ttl"] {
        let s = c.check_stat(&format!("{m}/{p}")).await.unwrap().unwrap();
        assert_fresh(&s, 0, 0);
        assert_eq!(s.czxid, cont.czxid);
    }

    // An empty multi is answered locally by the client, but a single check works.
    let mut w = c.new_multi_writer();
    w.add_check_version(&a, 1).unwrap();
    assert_eq!(w.commit().await.unwrap(), [MultiWriteResult::Check]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_failure_rolls_back() {
    let env = env("multi_fail").await;
    let c = env.client().await;
    let f = env.path("f");
    let x = format!("{f}/x");
    let y = format!("{f}/y");
    let new1 = format!("{f}/new1");
    c.create(&f, b"", &open()).await.unwrap();
    c.create(&x, b"orig", &open()).await.unwrap();
    c.create(&y, b"", &open()).await.unwrap();
    let f_before = c.check_stat(&f).await.unwrap().unwrap();
    let (_, new1_watch) = c.check_and_watch_stat(&new1).await.unwrap();
    let mut new1_watch = Box::pin(new1_watch.changed());

    // Failure in the middle: ops before and after it have no effect.
    let mut w = c.new_multi_writer();
    w.add_create(&new1, b"", &open()).unwrap();
    w.add_set_data(&x, b"changed", Some(7)).unwrap();
    w.add_create(&format!("{f}/new2"), b"", &open()).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::BadVersion
        }
    );
    // No NodeCreated fired for the rolled-back create (it would have arrived
    // before the multi reply).
    assert!(futures::poll!(&mut new1_watch).is_pending());

    // Later ops see earlier ones: creating the same node twice fails at 1.
    let mut w = c.new_multi_writer();
    w.add_create(&new1, b"", &open()).unwrap();
    w.add_create(&new1, b"", &open()).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::NodeExists
        }
    );

    // Delete then check the deleted node: NONODE at 1, and y survives.
    let mut w = c.new_multi_writer();
    w.add_delete(&y, None).unwrap();
    w.add_check_version(&y, 0).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::NoNode
        }
    );

    // First op fails.
    let mut w = c.new_multi_writer();
    w.add_delete(&f, None).unwrap();
    w.add_set_data(&x, b"changed", None).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 0,
            source: Error::NotEmpty
        }
    );

    // Last op fails.
    let mut w = c.new_multi_writer();
    w.add_set_data(&x, b"changed", Some(0)).unwrap();
    w.add_check_version(&x, 0).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::BadVersion
        }
    );

    // Ephemeral parent inside multi.
    let mut w = c.new_multi_writer();
    w.add_create(&format!("{f}/eph"), b"", &mode(CreateMode::Ephemeral))
        .unwrap();
    w.add_create(&format!("{f}/eph/kid"), b"", &open()).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::NoChildrenForEphemerals
        }
    );

    // Nothing changed.
    assert_eq!(sorted(c.list_children(&f).await.unwrap()), ["x", "y"]);
    let (data, xs) = c.get_data(&x).await.unwrap();
    assert_eq!((data.as_slice(), xs.version), (&b"orig"[..], 0));
    let f_after = c.check_stat(&f).await.unwrap().unwrap();
    assert_eq!(
        (f_after.cversion, f_after.pzxid, f_after.num_children),
        (f_before.cversion, f_before.pzxid, 2)
    );
    assert!(futures::poll!(&mut new1_watch).is_pending());

    // Check writer: the leading check fails on its own.
    let mut cw = c.new_check_writer(&x, Some(5)).unwrap();
    cw.add_set_data(&x, b"changed", None).unwrap();
    assert_eq!(
        cw.commit().await.unwrap_err(),
        zk::CheckWriteError::CheckFailed {
            source: Error::BadVersion
        }
    );
    let mut cw = c.new_check_writer(&env.path("nope"), None).unwrap();
    cw.add_set_data(&x, b"changed", None).unwrap();
    assert_eq!(
        cw.commit().await.unwrap_err(),
        zk::CheckWriteError::CheckFailed {
            source: Error::NoNode
        }
    );
    // And passes with the right version (-1 = any version also passes).
    let mut cw = c.new_check_writer(&x, Some(0)).unwrap();
    cw.add_set_data(&x, b"changed", Some(0)).unwrap();
    let res = cw.commit().await.unwrap();
    assert!(
        matches!(&res[..], [MultiWriteResult::SetData { stat }] if stat.version == 1),
        "{res:?}"
    );
    let mut cw = c.new_check_writer(&x, None).unwrap();
    cw.add_delete(&y, Some(0)).unwrap();
    assert_eq!(cw.commit().await.unwrap(), [MultiWriteResult::Delete]);
    // Now the watched create goes through, and the watch fires.
    c.create(&new1, b"", &open()).await.unwrap();
    assert_event(
        &within(SOON, "NodeCreated", new1_watch).await,
        EventType::NodeCreated,
        &new1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_read() {
    let env = env("multi_read").await;
    let c = env.client().await;
    let r = env.path("r");
    c.create(&r, b"root", &open()).await.unwrap();
    c.create(&format!("{r}/k1"), b"one", &open()).await.unwrap();
    c.create(&format!("{r}/k2"), b"", &open()).await.unwrap();
    let (_, r_stat) = c.get_data(&r).await.unwrap();
    let (_, k1_stat) = c.get_data(&format!("{r}/k1")).await.unwrap();

    let mut rd = c.new_multi_reader();
    rd.add_get_data(&format!("{r}/k1")).unwrap();
    rd.add_get_children(&r).unwrap();
    rd.add_get_data(&env.path("missing")).unwrap();
    rd.add_get_children(&env.path("missing")).unwrap();
    rd.add_get_data(&r).unwrap();
    let res = rd.commit().await.unwrap();
    assert_eq!(res.len(), 5, "{res:?}");
    match &res[0] {
        MultiReadResult::Data { data, stat } => {
            assert_eq!(data, b"one");
            assert_eq!(*stat, k1_stat);
        }
        other => panic!("{other:?}"),
    }
    match &res[1] {
        MultiReadResult::Children { children } => {
            assert_eq!(sorted(children.clone()), ["k1", "k2"])
        }
        other => panic!("{other:?}"),
    }
    for i in [2, 3] {
        match &res[i] {
            MultiReadResult::Error { err } => assert_eq!(*err, Error::NoNode),
            other => panic!("{other:?}"),
        }
    }
    match &res[4] {
        MultiReadResult::Data { data, stat } => {
            assert_eq!(data, b"root");
            assert_eq!(stat.num_children, 2);
            assert_eq!(stat.czxid, r_stat.czxid);
        }
        other => panic!("{other:?}"),
    }
}

// --------------------------------------------------------------------- ACLs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_digest() {
    let env = env("acl_digest").await;
    let alice = env.client_as("alice", "secret").await;
    let anon = env.client().await;
    let wrong = env.client_as("alice", "wrong").await;
    let bob = env.client_as("bob", "hunter2").await;
    let n = env.path("n");
    let alice_acl = [Acl::new(
        Permission::ALL,
        AuthId::new("digest", &digest_id("alice", "secret")),
    )];
    let (created, _) = alice
        .create(
            &n,
            b"secret data",
            &CreateMode::Persistent.with_acls(Acls::new(&alice_acl)),
        )
        .await
        .unwrap();
    alice
        .create(&format!("{n}/kid"), b"", &open())
        .await
        .unwrap();

    let (acl, stat) = alice.get_acl(&n).await.unwrap();
    assert_eq!(acl, alice_acl);
    assert_eq!(stat.czxid, created.czxid);
    assert_eq!(alice.get_data(&n).await.unwrap().0, b"secret data");

    for (who, c) in [
        ("anonymous", &anon),
        ("wrong password", &wrong),
        ("bob", &bob),
    ] {
        let e = |r: Result<(), Error>| r.expect_err(who);
        assert_eq!(e(c.get_data(&n).await.map(drop)), Error::NoAuth, "{who}");
        // exists: no ACL check in 3.8.0; READ is required in later releases.
        match c.check_stat(&n).await {
            Ok(Some(s)) => assert_eq!(s.czxid, created.czxid),
            Err(Error::NoAuth) => {}
            other => panic!("{who}: exists on protected node: {other:?}"),
        }
        assert_eq!(
            e(c.list_children(&n).await.map(drop)),
            Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            e(c.get_children(&n).await.map(drop)),
            Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            e(c.count_descendants_number(&n).await.map(drop)),
            Error::NoAuth,
            "{who}"
        );
        assert_eq!(e(c.get_acl(&n).await.map(drop)), Error::NoAuth, "{who}");
        assert_eq!(
            e(c.set_data(&n, b"x", None).await.map(drop)),
            Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            e(c.set_acl(&n, &alice_acl, None).await.map(drop)),
            Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            e(c.create(&format!("{n}/x"), b"", &open()).await.map(drop)),
            Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            e(c.delete(&format!("{n}/kid"), None).await),
            Error::NoAuth,
            "{who}"
        );
        // The node itself is readable by path checks of the parent only.
        let mut rd = c.new_multi_reader();
        rd.add_get_data(&n).unwrap();
        match &rd.commit().await.unwrap()[..] {
            [MultiReadResult::Error { err }] => assert_eq!(*err, Error::NoAuth),
            other => panic!("{other:?}"),
        }
    }
    // Missing children of a protected node: NONODE beats NOAUTH for reads of
    // the missing node itself (its own ACL would be checked, and it has none).
    assert_eq!(
        anon.get_data(&format!("{n}/ghost")).await.unwrap_err(),
        Error::NoNode
    );

    // Alice can do everything.
    alice.set_data(&n, b"v1", Some(0)).await.unwrap();
    alice.delete(&format!("{n}/kid"), None).await.unwrap();
    // Deleting the node needs DELETE on the *parent* (open), so anyone can.
    anon.delete(&n, None).await.unwrap();
    assert_eq!(alice.check_stat(&n).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_permission_bits_and_masking() {
    let env = env("acl_perms").await;
    let alice = env.client_as("alice", "secret").await;
    let anon = env.client().await;
    let alice_id = digest_id("alice", "secret");

    // world READ + alice ALL: anyone reads, getACL without ADMIN masks digests.
    let r = env.path("readable");
    let acl = [
        Acl::new(Permission::READ, AuthId::anyone()),
        Acl::new(Permission::ALL, AuthId::new("digest", &alice_id)),
    ];
    alice
        .create(
            &r,
            b"data",
            &CreateMode::Persistent.with_acls(Acls::new(&acl)),
        )
        .await
        .unwrap();
    assert_eq!(anon.get_data(&r).await.unwrap().0, b"data");
    assert!(anon.check_stat(&r).await.unwrap().is_some());
    assert!(anon.list_children(&r).await.unwrap().is_empty());
    let (masked, _) = anon.get_acl(&r).await.unwrap();
    assert_eq!(
        masked,
        [
            Acl::new(Permission::READ, AuthId::anyone()),
            Acl::new(Permission::ALL, AuthId::new("digest", "alice:x")),
        ]
    );
    assert_eq!(alice.get_acl(&r).await.unwrap().0, acl);
    assert_eq!(
        anon.set_data(&r, b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        anon.create(&format!("{r}/k"), b"", &open())
            .await
            .unwrap_err(),
        Error::NoAuth
    );

    // CREATE only: children can be made, but the node cannot be read.
    let cr = env.path("create_only");
    let cr_acl = [
        Acl::new(Permission::CREATE, AuthId::anyone()),
        Acl::new(Permission::ALL, AuthId::new("digest", &alice_id)),
    ];
    anon.create(
        &cr,
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&cr_acl)),
    )
    .await
    .unwrap();
    anon.create(&format!("{cr}/k"), b"kid", &open())
        .await
        .unwrap();
    assert_eq!(anon.get_data(&cr).await.unwrap_err(), Error::NoAuth);
    assert_eq!(anon.list_children(&cr).await.unwrap_err(), Error::NoAuth);
    assert_eq!(anon.get_data(&format!("{cr}/k")).await.unwrap().0, b"kid");
    assert_eq!(
        anon.delete(&format!("{cr}/k"), None).await.unwrap_err(),
        Error::NoAuth
    );
    // getACL needs READ or ADMIN.
    assert_eq!(anon.get_acl(&cr).await.unwrap_err(), Error::NoAuth);

    // ADMIN only: getACL works (unmasked), setACL works, reads do not.
    let ad = env.path("admin_only");
    anon.create(
        &ad,
        b"",
        &CreateMode::Persistent
            .with_acls(Acls::new(&[Acl::new(Permission::ADMIN, AuthId::anyone())])),
    )
    .await
    .unwrap();
    assert_eq!(anon.get_data(&ad).await.unwrap_err(), Error::NoAuth);
    let (acl, stat) = anon.get_acl(&ad).await.unwrap();
    assert_eq!(acl, [Acl::new(Permission::ADMIN, AuthId::anyone())]);
    assert_eq!(stat.aversion, 0);
    let s = anon
        .set_acl(
            &ad,
            &[Acl::new(
                Permission::READ | Permission::ADMIN,
                AuthId::anyone(),
            )],
            Some(0),
        )
        .await
        .unwrap();
    assert_eq!(s.aversion, 1);
    assert_eq!(anon.get_data(&ad).await.unwrap().0, b"");

    // WRITE|DELETE without READ: set works, read does not.
    let wd = env.path("write_delete");
    anon.create(
        &wd,
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&[Acl::new(
            Permission::WRITE | Permission::DELETE,
            AuthId::anyone(),
        )])),
    )
    .await
    .unwrap();
    assert_eq!(anon.set_data(&wd, b"w", None).await.unwrap().version, 1);
    assert_eq!(anon.get_data(&wd).await.unwrap_err(), Error::NoAuth);

    // Read-only ACL via the crate's helper.
    let ro = env.path("read_only");
    anon.create(
        &ro,
        b"r",
        &CreateMode::Persistent.with_acls(Acls::anyone_read()),
    )
    .await
    .unwrap();
    assert_eq!(
        anon.get_acl(&ro).await.unwrap().0,
        [Acl::new(Permission::READ, AuthId::anyone())]
    );
    assert_eq!(
        anon.set_acl(&ro, &[Acl::new(Permission::ALL, AuthId::anyone())], None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_auth_scheme_and_invalid_acls() {
    let env = env("acl_auth").await;
    let alice = env.client_as("alice", "secret").await;
    let anon = env.client().await;
    let alice_id = digest_id("alice", "secret");

    // "auth" expands to the creator's authenticated ids.
    let mine = env.path("mine");
    alice
        .create(
            &mine,
            b"",
            &CreateMode::Persistent.with_acls(Acls::creator_all()),
        )
        .await
        .unwrap();
    assert_eq!(
        alice.get_acl(&mine).await.unwrap().0,
        [Acl::new(Permission::ALL, AuthId::new("digest", &alice_id))]
    );
    assert_eq!(anon.get_data(&mine).await.unwrap_err(), Error::NoAuth);
    // Another session with the same credentials has access.
    let alice2 = env.client_as("alice", "secret").await;
    alice2.get_data(&mine).await.unwrap();

    // Two identities -> two entries.
    let both = env.client_as("alice", "secret").await;
    both.auth("digest", b"bob:hunter2").await.unwrap();
    let shared = env.path("shared");
    both.create(
        &shared,
        b"",
        &CreateMode::Persistent.with_acls(Acls::creator_all()),
    )
    .await
    .unwrap();
    // (ZooKeeper keeps a connection's ids in a hash set: order is unspecified.)
    let mut ids: Vec<(Permission, String, String)> = both
        .get_acl(&shared)
        .await
        .unwrap()
        .0
        .iter()
        .map(|a| (a.permission(), a.scheme().to_string(), a.id().to_string()))
        .collect();
    ids.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        ids,
        [
            (Permission::ALL, "digest".to_string(), alice_id.clone()),
            (
                Permission::ALL,
                "digest".to_string(),
                digest_id("bob", "hunter2")
            ),
        ]
    );
    let bob = env.client_as("bob", "hunter2").await;
    bob.get_data(&shared).await.unwrap();

    // setACL with "auth" works the same way.
    let open_node = env.path("open");
    anon.create(&open_node, b"", &open()).await.unwrap();
    let s = alice
        .set_acl(&open_node, &Acls::creator_all(), Some(0))
        .await
        .unwrap();
    assert_eq!(s.aversion, 1);
    assert_eq!(anon.get_data(&open_node).await.unwrap_err(), Error::NoAuth);

    // Duplicate entries collapse.
    let dup = env.path("dup");
    let twice = [
        Acl::new(Permission::ALL, AuthId::anyone()),
        Acl::new(Permission::ALL, AuthId::anyone()),
    ];
    anon.create(
        &dup,
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&twice)),
    )
    .await
    .unwrap();
    assert_eq!(
        anon.get_acl(&dup).await.unwrap().0,
        [Acl::new(Permission::ALL, AuthId::anyone())]
    );

    // INVALIDACL cases.
    let bad = env.path("bad");
    let invalid: Vec<Vec<Acl>> = vec![
        vec![Acl::new(Permission::ALL, AuthId::authed())], // no auth on anon
        vec![Acl::new(Permission::ALL, AuthId::new("digest", "no-colon"))],
        vec![Acl::new(Permission::ALL, AuthId::new("digest", "a:b:c"))],
        vec![Acl::new(Permission::ALL, AuthId::new("nosuchscheme", "x"))],
        vec![Acl::new(Permission::ALL, AuthId::new("ip", "not-an-ip"))],
        vec![
            Acl::new(Permission::READ, AuthId::anyone()),
            Acl::new(Permission::ALL, AuthId::new("ip", "10.0.0.0/99x")),
        ],
    ];
    for acl in &invalid {
        assert_eq!(
            anon.create(&bad, b"", &CreateMode::Persistent.with_acls(Acls::new(acl)))
                .await
                .unwrap_err(),
            Error::InvalidAcl,
            "create with {acl:?}"
        );
        assert_eq!(
            anon.set_acl(&open_node, acl, None).await.unwrap_err(),
            Error::InvalidAcl,
            "setACL with {acl:?}"
        );
        // INVALIDACL is checked before NONODE for setACL...
        assert_eq!(
            anon.set_acl(&env.path("ghost"), acl, None)
                .await
                .unwrap_err(),
            Error::InvalidAcl,
            "setACL on missing node with {acl:?}"
        );
        // ...and before the parent check for create.
        assert_eq!(
            anon.create(
                &env.path("ghost/kid"),
                b"",
                &CreateMode::Persistent.with_acls(Acls::new(acl))
            )
            .await
            .unwrap_err(),
            Error::InvalidAcl
        );
    }
    // Empty list: the server refuses it for setACL.
    assert_eq!(
        anon.set_acl(&dup, &[], None).await.unwrap_err(),
        Error::InvalidAcl
    );
    // Valid ACL on a missing node.
    assert_eq!(
        anon.set_acl(
            &env.path("ghost"),
            &[Acl::new(Permission::ALL, AuthId::anyone())],
            None
        )
        .await
        .unwrap_err(),
        Error::NoNode
    );
    assert_eq!(anon.check_stat(&bad).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_ip_scheme_and_whoami() {
    let env = env("acl_ip").await;
    let c = env.client().await;

    // whoami: an unauthenticated connection carries only its ip identity.
    let users = c.list_auth_users().await.unwrap();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].scheme(), "ip");
    let my_ip = users[0].user().to_string();
    assert!(my_ip.parse::<std::net::IpAddr>().is_ok(), "{my_ip}");

    c.auth("digest", b"alice:secret").await.unwrap();
    let users = c.list_auth_users().await.unwrap();
    // (ZooKeeper keeps a connection's ids in a hash set: order is unspecified.)
    let mut got: Vec<(String, String)> = users
        .iter()
        .map(|u| (u.scheme().to_string(), u.user().to_string()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("digest".to_string(), "alice".to_string()),
            ("ip".to_string(), my_ip.clone())
        ]
    );

    // ip ACLs: exact address, matching and non-matching ranges.
    let cases: Vec<(&str, String, bool)> = vec![
        ("exact", my_ip.clone(), true),
        ("net8", format!("{}/8", my_ip), true),
        ("other", "10.1.2.3".to_string(), false),
        ("othernet", "192.0.2.0/24".to_string(), false),
    ];
    for (name, id, allowed) in &cases {
        let p = env.path(name);
        c.create(
            &p,
            b"ip",
            &CreateMode::Persistent.with_acls(Acls::new(&[Acl::new(
                Permission::READ | Permission::WRITE,
                AuthId::new("ip", id),
            )])),
        )
        .await
        .unwrap();
        let r = c.get_data(&p).await;
        if *allowed {
            assert_eq!(r.unwrap().0, b"ip", "{name}");
            c.set_data(&p, b"w", None).await.unwrap();
        } else {
            assert_eq!(r.unwrap_err(), Error::NoAuth, "{name}");
            assert_eq!(
                c.set_data(&p, b"w", None).await.unwrap_err(),
                Error::NoAuth,
                "{name}"
            );
        }
        // No CREATE in these ACLs.
        assert_eq!(
            c.create(&format!("{p}/k"), b"", &open()).await.unwrap_err(),
            Error::NoAuth
        );
    }

    // An "auth" ACL only picks up authenticated schemes (digest), not ip.
    let p = env.path("creator");
    c.create(
        &p,
        b"",
        &CreateMode::Persistent.with_acls(Acls::creator_all()),
    )
    .await
    .unwrap();
    assert_eq!(
        c.get_acl(&p).await.unwrap().0,
        [Acl::new(
            Permission::ALL,
            AuthId::new("digest", &digest_id("alice", "secret"))
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failure_ends_session() {
    let env = env("auth_fail").await;
    let c = env.client().await;
    let mut state = c.state_watcher();
    assert_eq!(
        c.auth("nosuchscheme", b"whatever").await.unwrap_err(),
        Error::AuthFailed
    );
    let s = within(SOON, "AuthFailed state", async {
        loop {
            let s = c.state();
            if s.is_terminated() {
                return s;
            }
            state.changed().await;
        }
    })
    .await;
    assert_eq!(s, SessionState::AuthFailed);
    assert_eq!(c.get_data(&env.base).await.unwrap_err(), Error::AuthFailed);
}

// ------------------------------------------------------------------ watches

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_oneshot_data_exists_children() {
    let env = env("watch_oneshot").await;
    let w = env.client().await;
    let actor = env.client().await;
    let p = env.path("p");

    // exists on a missing node leaves a watch for its creation.
    let (none, exists_w) = w.check_and_watch_stat(&p).await.unwrap();
    assert_eq!(none, None);
    let (created, _) = actor.create(&p, b"", &open()).await.unwrap();
    let ev = within(SOON, "NodeCreated", exists_w.changed()).await;
    assert_event(&ev, EventType::NodeCreated, &p);
    assert_event_zxid(&ev, created.czxid);

    // data watch: setData fires NodeDataChanged once.
    let (_, _, data_w) = w.get_and_watch_data(&p).await.unwrap();
    let s = actor.set_data(&p, b"1", None).await.unwrap();
    let ev = within(SOON, "NodeDataChanged", data_w.changed()).await;
    assert_event(&ev, EventType::NodeDataChanged, &p);
    assert_event_zxid(&ev, s.mzxid);

    // exists watch on an existing node fires on data change.
    let (some, exists_w) = w.check_and_watch_stat(&p).await.unwrap();
    assert_eq!(some.unwrap().version, 1);
    actor.set_data(&p, b"2", None).await.unwrap();
    assert_event(
        &within(SOON, "NodeDataChanged via exists", exists_w.changed()).await,
        EventType::NodeDataChanged,
        &p,
    );

    // child watch: creating a child fires NodeChildrenChanged on the parent;
    // the child's data change does not.
    let (kids, child_w) = w.list_and_watch_children(&p).await.unwrap();
    assert!(kids.is_empty());
    let mut child_w = Box::pin(child_w.changed());
    w.set_data(&p, b"own data change", None).await.unwrap();
    assert!(futures::poll!(&mut child_w).is_pending());
    actor.create(&format!("{p}/k"), b"", &open()).await.unwrap();
    assert_event(
        &within(SOON, "NodeChildrenChanged", child_w).await,
        EventType::NodeChildrenChanged,
        &p,
    );

    // get_children2 watch fires on child deletion.
    let (_, _, child_w) = w.get_and_watch_children(&p).await.unwrap();
    let mut child_w = Box::pin(child_w.changed());
    w.set_data(&format!("{p}/k"), b"kid data", None)
        .await
        .unwrap();
    assert!(futures::poll!(&mut child_w).is_pending());
    actor.delete(&format!("{p}/k"), None).await.unwrap();
    assert_event(
        &within(SOON, "NodeChildrenChanged on delete", child_w).await,
        EventType::NodeChildrenChanged,
        &p,
    );

    // Deleting the watched node: data, exists and child watches all see NodeDeleted.
    let (_, _, data_w) = w.get_and_watch_data(&p).await.unwrap();
    let (_, exists_w) = w.check_and_watch_stat(&p).await.unwrap();
    let (_, child_w) = w.list_and_watch_children(&p).await.unwrap();
    actor.delete(&p, None).await.unwrap();
    for (what, fut) in [
        ("data", data_w.changed().boxed()),
        ("exists", exists_w.changed().boxed()),
        ("child", child_w.changed().boxed()),
    ] {
        assert_event(&within(SOON, what, fut).await, EventType::NodeDeleted, &p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_precede_replies() {
    let env = env("watch_order").await;
    let c = env.client().await;
    let a = env.path("a");
    let b = env.path("b");
    c.create(&a, b"", &open()).await.unwrap();

    // Our own write: the notification is delivered before the reply.
    let (_, _, data_w) = c.get_and_watch_data(&a).await.unwrap();
    c.set_data(&a, b"x", None).await.unwrap();
    let ev = data_w
        .changed()
        .now_or_never()
        .expect("event must arrive before the setData reply");
    assert_event(&ev, EventType::NodeDataChanged, &a);

    // A multi touching several watched paths: all events before the reply.
    let (_, _, a_w) = c.get_and_watch_data(&a).await.unwrap();
    let (_, b_w) = c.check_and_watch_stat(&b).await.unwrap();
    let (_, base_w) = c.list_and_watch_children(&env.base).await.unwrap();
    let mut m = c.new_multi_writer();
    m.add_set_data(&a, b"y", None).unwrap();
    m.add_create(&b, b"", &open()).unwrap();
    m.commit().await.unwrap();
    assert_event(
        &a_w.changed().now_or_never().expect("a event before reply"),
        EventType::NodeDataChanged,
        &a,
    );
    assert_event(
        &b_w.changed().now_or_never().expect("b event before reply"),
        EventType::NodeCreated,
        &b,
    );
    assert_event(
        &base_w
            .changed()
            .now_or_never()
            .expect("child event before reply"),
        EventType::NodeChildrenChanged,
        &env.base,
    );

    // Another session's write: once our next reply arrives after it, the
    // event is already there (the server sends it first on our connection).
    let other = env.client().await;
    let (_, _, a_w) = c.get_and_watch_data(&a).await.unwrap();
    other.set_data(&a, b"z", None).await.unwrap();
    c.sync(&a).await.unwrap();
    c.get_data(&a).await.unwrap();
    assert_event(
        &a_w.changed()
            .now_or_never()
            .expect("event before a later read reply"),
        EventType::NodeDataChanged,
        &a,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_persistent() {
    let env = env("watch_persistent").await;
    let c = env.client().await;
    let p = env.path("pw");
    let kid = format!("{p}/kid");
    let mut w = c.watch(&p, AddWatchMode::Persistent).await.unwrap();

    let (s, _) = c.create(&p, b"", &open()).await.unwrap();
    let ev = next_event(&mut w).await;
    assert_event(&ev, EventType::NodeCreated, &p);
    assert_event_zxid(&ev, s.czxid);
    c.set_data(&p, b"1", None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDataChanged, &p);
    c.create(&kid, b"", &open()).await.unwrap();
    assert_event(
        &next_event(&mut w).await,
        EventType::NodeChildrenChanged,
        &p,
    );
    // Not recursive: nothing for the child's own changes.
    c.set_data(&kid, b"k", None).await.unwrap();
    c.create(&format!("{kid}/grandkid"), b"", &open())
        .await
        .unwrap();
    assert!(w.changed().now_or_never().is_none());
    c.delete(&format!("{kid}/grandkid"), None).await.unwrap();
    c.delete(&kid, None).await.unwrap();
    assert_event(
        &next_event(&mut w).await,
        EventType::NodeChildrenChanged,
        &p,
    );
    c.delete(&p, None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDeleted, &p);
    // Still armed after firing.
    c.create(&p, b"", &open()).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeCreated, &p);
    // setACL fires nothing.
    c.set_acl(&p, &[Acl::new(Permission::ALL, AuthId::anyone())], None)
        .await
        .unwrap();
    assert!(w.changed().now_or_never().is_none());

    // Changes by another session reach us too.
    let other = env.client().await;
    other.set_data(&p, b"2", None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDataChanged, &p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_persistent_recursive() {
    let env = env("watch_recursive").await;
    let c = env.client().await;
    let r = env.path("rw");
    let a = format!("{r}/a");
    let ab = format!("{a}/b");
    let mut w = c
        .watch(&r, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();

    c.create(&r, b"", &open()).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeCreated, &r);
    // Children: NodeCreated for the child itself, never NodeChildrenChanged.
    c.create(&a, b"", &open()).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeCreated, &a);
    c.set_data(&a, b"1", None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDataChanged, &a);
    c.create(&ab, b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeCreated, &ab);
    c.set_data(&r, b"r", None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDataChanged, &r);
    c.delete(&ab, None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDeleted, &ab);
    c.delete(&a, None).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeDeleted, &a);
    // Siblings with a common string prefix are not descendants.
    c.create(&format!("{r}x"), b"", &open()).await.unwrap();
    c.set_data(&env.base, b"parent", None).await.unwrap();
    assert!(w.changed().now_or_never().is_none());

    // A multi: one event per op, in op order.
    let mut m = c.new_multi_writer();
    m.add_create(&a, b"", &open()).unwrap();
    m.add_set_data(&a, b"2", None).unwrap();
    m.add_create(&ab, b"", &open()).unwrap();
    m.add_delete(&ab, None).unwrap();
    m.commit().await.unwrap();
    for (ty, path) in [
        (EventType::NodeCreated, &a),
        (EventType::NodeDataChanged, &a),
        (EventType::NodeCreated, &ab),
        (EventType::NodeDeleted, &ab),
    ] {
        assert_event(&next_event(&mut w).await, ty, path);
    }
    assert!(w.changed().now_or_never().is_none());

    // A one-shot child watch on a descendant coexists with the recursive one.
    let (_, child_w) = c.list_and_watch_children(&a).await.unwrap();
    c.create(&ab, b"", &open()).await.unwrap();
    assert_event(&next_event(&mut w).await, EventType::NodeCreated, &ab);
    assert_event(
        &within(SOON, "child watch", child_w.changed()).await,
        EventType::NodeChildrenChanged,
        &a,
    );
}

// ----------------------------------------------------------------- sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_timeout_negotiation() {
    let env = env("session_timeout").await;
    for (asked, granted) in [
        (1_000u64, 4_000u64),
        (4_000, 4_000),
        (9_000, 9_000),
        (100_000, 40_000),
    ] {
        let c = zk::Client::connector()
            .with_session_timeout(Duration::from_millis(asked))
            .connect(&env.addr)
            .await
            .unwrap();
        assert_eq!(
            c.session_timeout(),
            Duration::from_millis(granted),
            "asked for {asked} ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_close_removes_ephemerals() {
    let env = env("session_close").await;
    let observer = env.client().await;
    let owner = env.client().await;
    let e = env.path("e");
    let s = env.path("s-");
    owner
        .create(&e, b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (_, seq) = owner
        .create(&s, b"", &mode(CreateMode::EphemeralSequential))
        .await
        .unwrap();
    let (_, w) = observer.check_and_watch_stat(&e).await.unwrap();
    let (_, _, base_w) = observer.get_and_watch_children(&env.base).await.unwrap();
    let closer = owner.clone();
    drop(owner);
    drop(closer); // the last handle closes the session
    assert_event(
        &within(SOON, "ephemeral removal on close", w.changed()).await,
        EventType::NodeDeleted,
        &e,
    );
    assert_event(
        &within(SOON, "children change on close", base_w.changed()).await,
        EventType::NodeChildrenChanged,
        &env.base,
    );
    eventually(SOON, "all ephemerals gone", || async {
        observer.list_children(&env.base).await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        observer.check_stat(&format!("{s}{seq}")).await.unwrap(),
        None
    );
    // cversion counts both creates and both deletes.
    let st = observer.check_stat(&env.base).await.unwrap().unwrap();
    assert_eq!((st.cversion, st.num_children), (4, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_removes_ephemerals() {
    let env = env("session_expiry").await;
    let proxy = Proxy::start(env.addr.clone()).await;
    let observer = env.client().await;
    let owner = zk::Client::connector()
        .with_session_timeout(Duration::from_millis(4000))
        .connect(&proxy.addr)
        .await
        .unwrap();
    assert_eq!(owner.session_timeout(), Duration::from_millis(4000));
    let e = env.path("e");
    let (stat, _) = owner
        .create(&e, b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, owner.session_id().0);
    let (_, w) = observer.check_and_watch_stat(&e).await.unwrap();
    let mut states = owner.state_watcher();

    let cut = tokio::time::Instant::now();
    proxy.block();
    assert_eq!(
        within(SOON, "Disconnected", states.changed()).await,
        SessionState::Disconnected
    );
    // The ephemeral stays while the session is alive...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(observer.check_stat(&e).await.unwrap().is_some());
    // ...and goes when the server expires it (timeout 4 s, rounded up to a tick).
    assert_event(
        &within(SLOW, "ephemeral removal on expiry", w.changed()).await,
        EventType::NodeDeleted,
        &e,
    );
    let elapsed = cut.elapsed();
    assert!(
        elapsed >= Duration::from_millis(3000),
        "session expired too early ({elapsed:?})"
    );
    proxy.unblock();
    let final_state = within(SLOW, "Expired", async {
        loop {
            let s = states.changed().await;
            if s.is_terminated() {
                return s;
            }
        }
    })
    .await;
    assert_eq!(final_state, SessionState::Expired);
    assert_eq!(
        owner.get_data(&env.base).await.unwrap_err(),
        Error::SessionExpired
    );
    assert!(observer.list_ephemerals("/").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_reattach_keeps_ephemerals() {
    let env = env("session_reattach").await;
    let first = env
        .connector()
        .with_detached()
        .connect(&env.addr)
        .await
        .unwrap();
    let e = env.path("e");
    first
        .create(&e, b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let info = first.session().clone();
    let id = first.session_id();
    drop(first); // detached: the session is not closed

    let second = env
        .connector()
        .with_session(info)
        .connect(&env.addr)
        .await
        .unwrap();
    assert_eq!(second.session_id(), id);
    assert_eq!(
        second.list_ephemerals(&env.base).await.unwrap(),
        std::slice::from_ref(&e)
    );
    assert_eq!(
        second
            .check_stat(&e)
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        id.0
    );
    // Closing the re-attached session removes the ephemeral.
    let observer = env.client().await;
    let (_, w) = observer.check_and_watch_stat(&e).await.unwrap();
    drop(second);
    assert_event(
        &within(SOON, "removal on close", w.changed()).await,
        EventType::NodeDeleted,
        &e,
    );
}

// ------------------------------------------------------------ misc & errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_chroot() {
    let env = env("sync_chroot").await;
    let c = env.client().await;
    c.sync(&env.base).await.unwrap();
    c.sync("/").await.unwrap();
    // sync does not check that the path exists.
    c.sync(&env.path("missing")).await.unwrap();

    let root = env.path("root");
    c.create(&root, b"", &open()).await.unwrap();
    let rooted = zk::Client::connect(&format!("{}{}", env.addr, root))
        .await
        .unwrap();
    let (_, w) = rooted.check_and_watch_stat("/x").await.unwrap();
    let (s, _) = rooted.create("/x", b"in chroot", &open()).await.unwrap();
    assert_event(
        &within(SOON, "chroot event", w.changed()).await,
        EventType::NodeCreated,
        "/x",
    );
    assert_eq!(
        c.get_data(&format!("{root}/x")).await.unwrap(),
        (b"in chroot".to_vec(), s)
    );
    let (_, seq) = rooted
        .create("/x/e-", b"", &mode(CreateMode::EphemeralSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 0);
    assert_eq!(
        rooted.list_ephemerals("/").await.unwrap(),
        ["/x/e-0000000000"]
    );
    assert_eq!(rooted.list_children("/").await.unwrap(), ["x"]);
    rooted.sync("/x").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_nodes_and_error_codes() {
    let env = env("special").await;
    let c = env.client().await;

    // /zookeeper and its system children cannot be deleted.
    for p in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert!(
            matches!(c.delete(p, None).await.unwrap_err(), Error::BadArguments(_)),
            "delete {p}"
        );
    }
    assert!(c.check_stat("/zookeeper/quota").await.unwrap().is_some());
    let (acl, stat) = c.get_acl("/zookeeper/config").await.unwrap();
    assert_eq!(acl, [Acl::new(Permission::READ, AuthId::anyone())]);
    assert_eq!(stat.aversion, -1);
    assert_eq!(
        c.set_data("/zookeeper/config", b"x", None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    let (cfg, _) = c.get_config().await.unwrap();
    let cfg = String::from_utf8_lossy(&cfg);
    if std::env::var("ZK_TEST_ADDR").is_ok_and(|a| a.contains(',')) {
        // An ensemble: the quorum's config (QuorumMaj.toString), as every server sets it.
        assert!(
            cfg.starts_with("server.1=") && cfg.ends_with("version=0"),
            "{cfg:?}"
        );
    } else {
        // Standalone: no dynamic config.
        assert!(cfg.is_empty(), "{cfg:?}");
    }
    let (kids, zstat) = c.get_children("/zookeeper").await.unwrap();
    assert_eq!(sorted(kids), ["config", "quota"]);
    assert_eq!(zstat.num_children, 2);
    assert_eq!((zstat.czxid, zstat.version), (0, 0));

    // Reconfig is disabled by default.
    let members = ["server.1=127.0.0.1:2888:3888;2181"];
    assert_eq!(
        c.update_ensemble(
            zk::EnsembleUpdate::New {
                ensemble: members.iter().copied()
            },
            None
        )
        .await
        .unwrap_err(),
        Error::ReconfigDisabled
    );

    // A session survives failed requests.
    assert_eq!(
        c.create(&env.path("a/b/c"), b"", &open())
            .await
            .unwrap_err(),
        Error::NoNode
    );
    assert_eq!(c.get_acl(&env.path("a")).await.unwrap_err(), Error::NoNode);
    c.create(&env.path("a"), b"", &open()).await.unwrap();
    assert_eq!(c.state(), SessionState::SyncConnected);

    // Root is listable and its stat readable.
    let (root_kids, root_stat) = c.get_children("/").await.unwrap();
    assert!(root_kids.contains(&"zookeeper".to_string()));
    assert_eq!(root_stat.num_children as usize, root_kids.len());
    assert_eq!(root_stat.czxid, 0);

    // Clean up explicitly here too (exercise delete_tree on a deep tree).
    c.create(&env.path("a/b"), b"", &open()).await.unwrap();
    c.create(&env.path("a/b/c"), b"", &open()).await.unwrap();
    delete_tree(&c, &env.path("a")).await;
    assert_eq!(c.check_stat(&env.path("a")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_restored_after_reconnect() {
    let env = env("watch_reconnect").await;
    let proxy = Proxy::start(env.addr.clone()).await;
    let w = env.connector().connect(&proxy.addr).await.unwrap();
    let actor = env.client().await;
    let (p, q, r, d, u, v) = (
        env.path("p"),
        env.path("q"),
        env.path("r"),
        env.path("d"),
        env.path("u"),
        env.path("v"),
    );
    for n in [&p, &r, &d, &u] {
        actor.create(n, b"0", &open()).await.unwrap();
    }
    let eph = env.path("eph");
    w.create(&eph, b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let id = w.session_id();

    let (_, _, pw) = w.get_and_watch_data(&p).await.unwrap();
    let (_, qw) = w.check_and_watch_stat(&q).await.unwrap();
    let (_, rw) = w.list_and_watch_children(&r).await.unwrap();
    let (_, _, dw) = w.get_and_watch_data(&d).await.unwrap();
    let (_, _, uw) = w.get_and_watch_data(&u).await.unwrap();
    let (_, vw) = w.check_and_watch_stat(&v).await.unwrap();
    let mut states = w.state_watcher();

    proxy.block();
    assert_eq!(
        within(SOON, "Disconnected", states.changed()).await,
        SessionState::Disconnected
    );
    // Changes while the watcher is away.
    actor.set_data(&p, b"1", None).await.unwrap();
    actor.create(&q, b"", &open()).await.unwrap();
    actor.create(&format!("{r}/k"), b"", &open()).await.unwrap();
    actor.delete(&d, None).await.unwrap();
    proxy.unblock();
    assert_eq!(
        within(SOON, "SyncConnected", states.changed()).await,
        SessionState::SyncConnected
    );
    assert_eq!(w.session_id(), id);

    // setWatches reports what was missed, at once.
    assert_event(
        &within(SOON, "missed data change", pw.changed()).await,
        EventType::NodeDataChanged,
        &p,
    );
    assert_event(
        &within(SOON, "missed creation", qw.changed()).await,
        EventType::NodeCreated,
        &q,
    );
    assert_event(
        &within(SOON, "missed child change", rw.changed()).await,
        EventType::NodeChildrenChanged,
        &r,
    );
    assert_event(
        &within(SOON, "missed deletion", dw.changed()).await,
        EventType::NodeDeleted,
        &d,
    );
    // Untouched paths are re-armed, not fired.
    let mut uw = Box::pin(uw.changed());
    let mut vw = Box::pin(vw.changed());
    w.sync(&u).await.unwrap();
    w.get_data(&u).await.unwrap();
    assert!(futures::poll!(&mut uw).is_pending());
    assert!(futures::poll!(&mut vw).is_pending());
    actor.set_data(&u, b"1", None).await.unwrap();
    actor.create(&v, b"", &open()).await.unwrap();
    assert_event(
        &within(SOON, "re-armed data watch", uw).await,
        EventType::NodeDataChanged,
        &u,
    );
    assert_event(
        &within(SOON, "re-armed exists watch", vw).await,
        EventType::NodeCreated,
        &v,
    );
    // The session (and its ephemeral) survived the reconnect.
    assert_eq!(
        actor
            .check_stat(&eph)
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        id.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(deprecated)]
async fn remove_watches() {
    let env = env("remove_watches").await;
    let c = env.client().await;
    let p = env.path("p");
    c.create(&p, b"", &open()).await.unwrap();

    let (_, _, w) = c.get_and_watch_data(&p).await.unwrap();
    w.remove().await.unwrap();
    let (_, w) = c.list_and_watch_children(&p).await.unwrap();
    w.remove().await.unwrap();
    let (_, w) = c.check_and_watch_stat(&env.path("missing")).await.unwrap();
    w.remove().await.unwrap();

    // After removal a new watch still works, and fires once.
    let (_, _, w) = c.get_and_watch_data(&p).await.unwrap();
    c.set_data(&p, b"1", None).await.unwrap();
    assert_event(
        &w.changed().now_or_never().expect("event before reply"),
        EventType::NodeDataChanged,
        &p,
    );
}
