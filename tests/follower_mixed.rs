//! The Rust follower in a mixed ensemble: two Apache ZooKeeper 3.8 servers (Debian's
//! jars) and the Rust node as the third member (sid 1, the lowest), all on 127.0.0.1.
//! The Rust node runs the election, then follows the Java leader over Zab: it syncs (the
//! leader chooses DIFF or SNAP), applies the broadcast, and its ACKs must count: with the
//! Java follower killed, writes still commit only if the leader hears them. Its tree is
//! compared with the leader's, node by node, Stat by Stat. Then it restarts over the log
//! it kept (in memory) and must be synced by DIFF.
//!
//! Skips (printing why, and passing) when `java` or the ZooKeeper jars are missing.

#[macro_use]
mod ensemble_support;

use std::time::Duration;

use ensemble_support::{eventually, init_tracing, Ensemble, SERIAL, WAIT};
use ferrokeeper::config::Config;
use ferrokeeper::proto::{op, Acl, CreateTxn, Txn, TxnEntry, TxnHeader};
use ferrokeeper::quorum::transport::election::{run_election, Decided, ElectionPort};
use ferrokeeper::quorum::transport::learner::{
    leader_address, FollowEnd, Follower, FollowerLimits, Progress, SharedLog, SyncKind,
};
use ferrokeeper::quorum::{ServerState, Sid, Zxid};
use ferrokeeper::storage::epoch::{EpochStore, MemEpochs};
use ferrokeeper::storage::{MemLog, TxnLog};
use ferrokeeper::tree::DataTree;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zookeeper_client as zk;

const RUST: u64 = 1;

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// A client of Java server `sid`, retried while it is not serving yet.
async fn client(ens: &Ensemble, sid: u64) -> zk::Client {
    let addr = ens.client_addr(sid);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let c = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .with_fail_eagerly()
            .connect(&addr)
            .await;
        match c {
            Ok(c) => return c,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "connect {addr}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One node as a client reads it: data and the Stat fields.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    path: String,
    data: Vec<u8>,
    stat: [i64; 11],
}

/// Every node under `/fk` (and `/fk` itself) as the Java server reads it, pre-order.
async fn java_nodes(c: &zk::Client, path: &str, out: &mut Vec<Seen>) {
    let (data, s) = c.get_data(path).await.expect("get_data");
    out.push(Seen {
        path: path.to_string(),
        data,
        stat: [
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.ctime,
            s.mtime,
            s.version.into(),
            s.cversion.into(),
            s.aversion.into(),
            s.ephemeral_owner,
            s.data_length.into(),
            s.num_children.into(),
        ],
    });
    let mut children = c.list_children(path).await.expect("list_children");
    children.sort();
    for child in children {
        Box::pin(java_nodes(c, &format!("{path}/{child}"), out)).await;
    }
}

/// The same from the Rust follower's tree.
fn rust_nodes(t: &DataTree, path: &str, out: &mut Vec<Seen>) {
    let node = t
        .get(path)
        .unwrap_or_else(|| panic!("{path} missing on the Rust follower"));
    let s = t.stat(path).expect("stat");
    out.push(Seen {
        path: path.to_string(),
        data: node.data().unwrap_or_default().to_vec(),
        stat: [
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.ctime,
            s.mtime,
            s.version.into(),
            s.cversion.into(),
            s.aversion.into(),
            s.ephemeral_owner,
            s.data_length.into(),
            s.num_children.into(),
        ],
    });
    let mut children = t.child_names(node);
    children.sort();
    for child in children {
        rust_nodes(t, &format!("{path}/{child}"), out);
    }
}

async fn assert_same_tree(c: &zk::Client, t: &DataTree) -> usize {
    let mut java = Vec::new();
    java_nodes(c, "/fk", &mut java).await;
    let mut rust = Vec::new();
    rust_nodes(t, "/fk", &mut rust);
    assert_eq!(
        rust, java,
        "the Rust follower's /fk differs from the Java leader's"
    );
    let mut root_java = c.list_children("/").await.expect("ls /");
    root_java.sort();
    let mut root_rust = t.child_names(t.get("/").expect("root"));
    root_rust.sort();
    assert_eq!(root_rust, root_java, "root children");
    java.len()
}

type Running = JoinHandle<(Follower, Result<FollowEnd, String>)>;

/// Elect (the Rust node must follow `java_leader`), then follow in the background.
async fn elect_and_follow(
    cfg: &Config,
    mut follower: Follower,
    java_leader: u64,
    stop: &CancellationToken,
) -> (ElectionPort, Running, watch::Receiver<Progress>) {
    let (accepted, current) = follower.epochs();
    let (decided, port): (Decided, ElectionPort) =
        tokio::time::timeout(WAIT, run_election(cfg, follower.last_zxid(), current))
            .await
            .expect("decided in time")
            .expect("election port");
    eprintln!(
        "Rust decided {decided:?} (last zxid {:#x}, epochs {accepted}/{current})",
        follower.last_zxid().0
    );
    assert_eq!(
        (decided.state, decided.leader),
        (ServerState::Following, Sid(java_leader))
    );
    let addr = leader_address(cfg, decided.leader).await.expect("address");
    let progress = follower.progress();
    let stop = stop.clone();
    let task = tokio::spawn(async move {
        let r = follower.follow(addr, &stop).await;
        (follower, r.map_err(|e| e.to_string()))
    });
    (port, task, progress)
}

async fn wait_progress(
    what: &str,
    progress: &mut watch::Receiver<Progress>,
    f: impl FnMut(&Progress) -> bool,
) -> Progress {
    tokio::time::timeout(WAIT, progress.wait_for(f))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("the follower runs")
        .clone()
}

async fn stop_follower(stop: CancellationToken, task: Running) -> Follower {
    stop.cancel();
    let (follower, end) = tokio::time::timeout(WAIT, task)
        .await
        .expect("the follower stops")
        .expect("the follower task");
    assert_eq!(end, Ok(FollowEnd::Stopped));
    follower
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_follower_syncs_applies_and_acks_with_java() {
    let classpath = java_or_skip!();
    let _serial = SERIAL.lock().await;
    init_tracing();
    let mut ens = Ensemble::new("follow", &[1, 2, 3]);
    ens.start_java(2, &classpath);
    ens.start_java(3, &classpath);
    let modes = eventually("the Java servers elect among themselves", || {
        let modes = (ens.mode(2)?, ens.mode(3)?);
        let serving = |m: &str| m == "leader" || m == "follower";
        (serving(&modes.0) && serving(&modes.1)).then_some(modes)
    })
    .await;
    let (leader, java_follower) = if modes.0 == "leader" { (2, 3) } else { (3, 2) };
    eprintln!("Java leader: {leader}, Java follower: {java_follower}");
    let c = client(&ens, leader).await;

    // Writes before the Rust node joins: it must get them in its sync.
    c.create("/fk", b"root", &open()).await.expect("create");
    for (name, data) in [("a", &b"one"[..]), ("b", b""), ("c", b"three")] {
        c.create(&format!("/fk/{name}"), data, &open())
            .await
            .expect("create");
    }
    c.set_data("/fk/a", b"one-and-a-half", None)
        .await
        .expect("set");
    c.delete("/fk/c", None).await.expect("delete");

    // (1) Fresh join.
    let cfg = ens.rust_config(RUST);
    let log = SharedLog::new(Box::new(MemLog::default()));
    let epochs: Box<dyn EpochStore> = Box::new(MemEpochs::default());
    let follower = Follower::new(&cfg, log, epochs, FollowerLimits::default()).expect("follower");
    let stop = CancellationToken::new();
    let (port, task, mut progress) = elect_and_follow(&cfg, follower, leader, &stop).await;
    let p = wait_progress("serving", &mut progress, |p| p.serving_epoch.is_some()).await;
    eprintln!("fresh join: {p:?}");
    let first_epoch = p.serving_epoch.unwrap_or_default();
    assert!(
        matches!(p.sync, Some(SyncKind::Snap { .. } | SyncKind::Diff { .. })),
        "{p:?}"
    );
    // Broadcast.
    let (s, _) = c
        .create("/fk/d", b"after-join", &open())
        .await
        .expect("create");
    c.set_data("/fk/b", b"bee", None).await.expect("set");
    let last = c.set_data("/fk", b"root2", None).await.expect("set");
    assert!(last.mzxid > s.czxid);
    let p = wait_progress("the broadcast applied", &mut progress, |p| {
        p.applied.0 >= last.mzxid
    })
    .await;
    eprintln!("after broadcast: {p:?}");
    assert!(p.acks >= 3, "every proposal ACKed: {p:?}");

    // The Rust follower's ACKs form the quorum once the Java follower is gone.
    ens.stop_java(java_follower);
    let write = tokio::time::timeout(
        Duration::from_secs(20),
        c.create("/fk/quorum", b"leader+rust", &open()),
    )
    .await
    .expect("a write with one Java server down commits in time (the Rust ACK counts)")
    .expect("create");
    let p = wait_progress("the quorum write applied", &mut progress, |p| {
        p.applied.0 >= write.0.czxid
    })
    .await;
    eprintln!(
        "with Java {java_follower} down, /fk/quorum committed at {:#x}; {p:?}",
        write.0.czxid
    );
    assert_eq!(ens.mode(leader).as_deref(), Some("leader"));

    let follower = stop_follower(stop, task).await;
    let n = assert_same_tree(&c, follower.tree()).await;
    eprintln!("case 1: {n} nodes under /fk identical (data and all Stat fields)");
    port.shutdown().await;

    // (2) Restart over the kept log. With the Rust node gone too the Java leader lost its
    // quorum and went LOOKING; the Java follower comes back and the two elect again (the
    // old leader has the highest zxid, so it leads again, in a new epoch). More writes,
    // then the Rust node rejoins from its log: DIFF, across the epoch change.
    ens.start_java(java_follower, &classpath);
    eventually("the Java follower rejoins", || {
        (ens.mode(java_follower).as_deref() == Some("follower")).then_some(())
    })
    .await;
    let (log, epochs) = follower.into_parts().await.expect("parts");
    c.create("/fk/e", b"while-away", &open())
        .await
        .expect("create");
    c.set_data("/fk/d", b"changed-while-away", None)
        .await
        .expect("set");
    let follower = Follower::new(&cfg, log, epochs, FollowerLimits::default()).expect("restart");
    eprintln!(
        "restarted from the kept log at {:#x}",
        follower.last_zxid().0
    );
    let stop = CancellationToken::new();
    let (port, task, mut progress) = elect_and_follow(&cfg, follower, leader, &stop).await;
    let p = wait_progress("serving again", &mut progress, |p| {
        p.serving_epoch.is_some()
    })
    .await;
    eprintln!("restart: {p:?}");
    assert!(matches!(p.sync, Some(SyncKind::Diff { .. })), "{p:?}");
    assert!(p.serving_epoch > Some(first_epoch), "a new epoch: {p:?}");
    let (s, _) = c
        .create("/fk/f", b"after-restart", &open())
        .await
        .expect("create");
    wait_progress("the broadcast after restart", &mut progress, |p| {
        p.applied.0 >= s.czxid
    })
    .await;
    let follower = stop_follower(stop, task).await;
    let n = assert_same_tree(&c, follower.tree()).await;
    eprintln!("case 2: {n} nodes under /fk identical after the DIFF restart");
    assert!(follower.last_zxid() >= Zxid(s.czxid));
    port.shutdown().await;

    // (3) TRUNC: while the Rust node is away, its log gains a txn the leader never had
    // (as if it had logged a proposal that was never committed). Rejoining, the leader
    // must have it truncated away; the tree is rebuilt from the snapshot and the log.
    let (log, epochs) = follower.into_parts().await.expect("parts");
    let ghost = Zxid(log.last_zxid() + 1);
    let entry = TxnEntry {
        header: TxnHeader {
            client_id: 0x77,
            cxid: 1,
            zxid: ghost.0,
            time: 1_000,
            r#type: op::CREATE,
        },
        txn: Txn::Create(
            op::CREATE,
            CreateTxn {
                path: "/fk/ghost".into(),
                data: None,
                acl: vec![Acl::world(31)],
                ephemeral: false,
                parent_cversion: -1,
            },
        ),
        digest: None,
    };
    {
        let mut l = log.lock();
        l.append(ghost.0, &entry.to_bytes()).expect("append");
        l.sync().expect("sync");
    }
    let follower = Follower::new(&cfg, log, epochs, FollowerLimits::default()).expect("restart");
    assert!(follower.tree().get("/fk/ghost").is_some());
    let stop = CancellationToken::new();
    let (port, task, mut progress) = elect_and_follow(&cfg, follower, leader, &stop).await;
    let p = wait_progress("serving after TRUNC", &mut progress, |p| {
        p.serving_epoch.is_some()
    })
    .await;
    eprintln!("ghost {:#x}; rejoin: {p:?}", ghost.0);
    assert_eq!(
        p.sync,
        Some(SyncKind::Trunc {
            zxid: Zxid(ghost.0 - 1)
        }),
        "{p:?}"
    );
    let (s, _) = c
        .create("/fk/g", b"after-trunc", &open())
        .await
        .expect("create");
    assert_eq!(s.czxid, ghost.0, "the leader reuses the truncated zxid");
    wait_progress("the broadcast after TRUNC", &mut progress, |p| {
        p.applied.0 >= s.czxid
    })
    .await;
    let follower = stop_follower(stop, task).await;
    assert!(follower.tree().get("/fk/ghost").is_none());
    let n = assert_same_tree(&c, follower.tree()).await;
    eprintln!("case 3: {n} nodes under /fk identical after TRUNC");
    port.shutdown().await;
}
