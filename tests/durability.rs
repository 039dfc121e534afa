//! Durability of the RocksDB-backed server, tested on the real binary.
//!
//! * `crash_under_load_keeps_every_acknowledged_write`: sessions write concurrently while
//!   the server is SIGKILLed at random moments (seeded, `FERROKEEPER_DURABILITY_SEED`),
//!   24 times; after each kill every acknowledged write must be in the store (checked by
//!   offline recovery) and the restarted server must serve exactly the recovered tree.
//! * `clean_restart_keeps_sessions_and_node_state` / `killed_restart_keeps_...`:
//!   ephemerals, sessions (reconnected by id and password), sequence counters, Stat fields,
//!   ACLs, TTL and container kinds survive a restart and behave afterwards.
//! * Damaged data: a damaged log entry or a gap stops start-up naming the zxid; a damaged
//!   newest snapshot falls back to an older one plus the log; a torn WAL tail is cut.
//!
//! The servers use `snapCount=50` where snapshots matter, so runs cross many snapshots;
//! the restart tests and the snapshot-damage test assert that recovery started from one.
//! `crash_under_load_with_a_separate_log_dir` repeats the crash test (10 kills) with the
//! log in a dataLogDir store of its own. Each test keeps its temp dir (data, server logs)
//! when it fails.

#![cfg(feature = "rocksdb")]

mod durability_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use durability_support::{
    assert_same_tree, connect, digest_id, eventually, recover_offline, seed, subtree, within,
    Offline, Proxy, Rng, ServerConfig, ServerProc, Shared, TestDir, TreeView,
};
use ferrokeeper::storage::rocks::RocksStore;
use zookeeper_client::{
    self as zk, Acl, Acls, AuthId, CreateMode, CreateOptions, MultiWriteError, MultiWriteResult,
    Permission, SessionState,
};

const OPEN: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());

fn mode(m: CreateMode) -> CreateOptions<'static> {
    m.with_acls(Acls::anyone_all())
}

fn with_ttl(ms: u64) -> CreateOptions<'static> {
    CreateMode::Persistent
        .with_acls(Acls::anyone_all())
        .with_ttl(Duration::from_millis(ms))
}

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

// ====================================================================== crash under load

/// A node's state as its only writer knows it: (version, data), or absent.
type State = Option<(i32, Vec<u8>)>;

/// One op of a worker; multi ops are lists of these.
#[derive(Clone, Debug)]
enum Op {
    Create {
        path: String,
        data: Vec<u8>,
    },
    Set {
        path: String,
        data: Vec<u8>,
        expect: Option<i32>,
    },
    Delete {
        path: String,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    Multi(Vec<Op>),
}

/// What a worker knows about its nodes.
struct Model {
    worker: usize,
    paths: Vec<String>,
    /// State after the last acknowledged op.
    acked: BTreeMap<String, State>,
    /// The op sent and not acknowledged: its effects (path, state if applied). All or none
    /// of them may be in the store.
    pending: Vec<(String, State)>,
    acked_ops: u64,
    /// Anything a sole writer must never see (BadVersion, NodeExists, ...).
    fatal: Option<String>,
}

impl Model {
    fn new(worker: usize, nodes: usize) -> Model {
        let paths: Vec<String> = (0..nodes)
            .map(|j| format!("/crash/w{worker}/n{j}"))
            .collect();
        Model {
            worker,
            acked: paths.iter().map(|p| (p.clone(), None)).collect(),
            paths,
            pending: Vec::new(),
            acked_ops: 0,
            fatal: None,
        }
    }
}

fn payload(rng: &mut Rng, tag: &str) -> Vec<u8> {
    let len = if rng.chance(4) {
        rng.range(1_000, 40_000)
    } else {
        rng.range(0, 80)
    } as usize;
    let mut d = tag.as_bytes().to_vec();
    d.extend(rng.bytes(len));
    d
}

/// Picks the next op from the acked state, and the states it leads to.
fn choose(m: &Model, rng: &mut Rng, counter: u64) -> (Op, Vec<(String, State)>) {
    let tag = format!("w{}#{counter}:", m.worker);
    let pick = |rng: &mut Rng| m.paths[rng.range(0, m.paths.len() as u64) as usize].clone();
    let single = |rng: &mut Rng, path: String, in_multi: bool| -> (Op, State) {
        match m.acked[&path].clone() {
            None => {
                let data = payload(rng, &tag);
                (
                    Op::Create {
                        path,
                        data: data.clone(),
                    },
                    Some((0, data)),
                )
            }
            Some((v, _)) if rng.chance(12) => (Op::Delete { path, version: v }, None),
            Some((v, _)) => {
                let data = payload(rng, &tag);
                let expect = (in_multi || rng.chance(50)).then_some(v);
                (
                    Op::Set {
                        path,
                        data: data.clone(),
                        expect,
                    },
                    Some((v + 1, data)),
                )
            }
        }
    };
    if rng.chance(25) {
        let n = rng.range(2, 4) as usize;
        let mut paths: Vec<String> = Vec::new();
        while paths.len() < n {
            let p = pick(rng);
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        let mut ops = Vec::new();
        let mut effects = Vec::new();
        for p in paths {
            let (op, st) = single(rng, p.clone(), true);
            ops.push(op);
            effects.push((p, st));
        }
        // A version check on another live node, when there is one.
        let others: Vec<&String> = m
            .paths
            .iter()
            .filter(|p| m.acked[*p].is_some() && !effects.iter().any(|(e, _)| e == *p))
            .collect();
        if !others.is_empty() && rng.chance(50) {
            let p = others[rng.range(0, others.len() as u64) as usize].clone();
            let v = m.acked[&p].as_ref().map_or(0, |s| s.0);
            ops.insert(
                0,
                Op::Check {
                    path: p,
                    version: v,
                },
            );
        }
        (Op::Multi(ops), effects)
    } else {
        let p = pick(rng);
        let (op, st) = single(rng, p.clone(), false);
        (op, vec![(p, st)])
    }
}

/// Errors a crash may cause; anything else is a model violation.
fn crash_error(e: &zk::Error) -> bool {
    !matches!(
        e,
        zk::Error::NodeExists
            | zk::Error::NoNode
            | zk::Error::BadVersion
            | zk::Error::NotEmpty
            | zk::Error::NoAuth
            | zk::Error::BadArguments(_)
            | zk::Error::RuntimeInconsistent
    )
}

/// Runs one op; Ok(None) when acknowledged as expected, Ok(Some(msg)) when the reply
/// contradicts the model, Err on a crash-type error.
async fn run_op(
    c: &zk::Client,
    op: &Op,
    effects: &[(String, State)],
) -> Result<Option<String>, zk::Error> {
    let version_of = |p: &str| {
        effects
            .iter()
            .find(|(e, _)| e == p)
            .and_then(|(_, s)| s.as_ref().map(|s| s.0))
    };
    let fail = |e: zk::Error, op: &Op| -> Result<Option<String>, zk::Error> {
        if crash_error(&e) {
            Err(e)
        } else {
            Ok(Some(format!("{op:?} failed: {e}")))
        }
    };
    match op {
        Op::Create { path, data } => match c.create(path, data, &OPEN).await {
            Ok((stat, _)) if stat.version != 0 => Ok(Some(format!("create {path}: {stat:?}"))),
            Ok(_) => Ok(None),
            Err(e) => fail(e, op),
        },
        Op::Set { path, data, expect } => match c.set_data(path, data, *expect).await {
            Ok(stat) if Some(stat.version) != version_of(path) => Ok(Some(format!(
                "set {path}: version {} but the model expects {:?}",
                stat.version,
                version_of(path)
            ))),
            Ok(_) => Ok(None),
            Err(e) => fail(e, op),
        },
        Op::Delete { path, version } => match c.delete(path, Some(*version)).await {
            Ok(()) => Ok(None),
            Err(e) => fail(e, op),
        },
        Op::Check { .. } => Ok(Some("a bare check".into())),
        Op::Multi(ops) => {
            let mut w = c.new_multi_writer();
            for o in ops {
                let r = match o {
                    Op::Create { path, data } => w.add_create(path, data, &OPEN),
                    Op::Set { path, data, expect } => w.add_set_data(path, data, *expect),
                    Op::Delete { path, version } => w.add_delete(path, Some(*version)),
                    Op::Check { path, version } => w.add_check_version(path, *version),
                    Op::Multi(_) => unreachable!("nested multi"),
                };
                r.expect("build multi");
            }
            match w.commit().await {
                Ok(results) => {
                    for (o, r) in ops.iter().zip(&results) {
                        if let (Op::Set { path, .. }, MultiWriteResult::SetData { stat }) = (o, r) {
                            if Some(stat.version) != version_of(path) {
                                return Ok(Some(format!(
                                    "multi set {path}: version {}",
                                    stat.version
                                )));
                            }
                        }
                    }
                    if results.len() != ops.len() {
                        return Ok(Some(format!("multi: {} results", results.len())));
                    }
                    Ok(None)
                }
                Err(MultiWriteError::RequestFailed { source }) => fail(source, op),
                Err(MultiWriteError::OperationFailed { index, source }) => Ok(Some(format!(
                    "multi op {index} ({:?}) failed: {source}",
                    ops.get(index)
                ))),
            }
        }
    }
}

/// Writes until the first error (a crash) or `stop`.
async fn worker(addr: String, model: Shared<Model>, mut rng: Rng, stop: Arc<AtomicBool>) {
    let connector = zk::Client::connector()
        .with_session_timeout(Duration::from_millis(2000))
        .with_fail_eagerly()
        .with_detached();
    let Ok(c) = connector.connect(&addr).await else {
        return;
    };
    let mut counter = 0u64;
    while !stop.load(Ordering::SeqCst) {
        counter += 1;
        let (op, effects) = {
            let mut m = model.lock().unwrap();
            let chosen = choose(&m, &mut rng, counter);
            m.pending = chosen.1.clone();
            chosen
        };
        let r = run_op(&c, &op, &effects).await;
        let mut m = model.lock().unwrap();
        match r {
            Ok(None) => {
                for (p, s) in effects {
                    m.acked.insert(p, s);
                }
                m.pending.clear();
                m.acked_ops += 1;
            }
            Ok(Some(msg)) => {
                m.fatal = Some(msg);
                return;
            }
            Err(_) => return,
        }
    }
}

/// Checks the workers' nodes in `view` against what they were acknowledged, then adopts
/// `view` as the new acknowledged state.
fn check_models(models: &[Shared<Model>], view: &TreeView, when: &str) -> Vec<String> {
    check_models_counting(models, view, when, &mut [0, 0])
}

/// `check_models`, counting unacknowledged ops found applied (`inflight[0]`) and not
/// applied (`inflight[1]`).
fn check_models_counting(
    models: &[Shared<Model>],
    view: &TreeView,
    when: &str,
    inflight: &mut [u64; 2],
) -> Vec<String> {
    let mut errors = Vec::new();
    for m in models {
        let mut m = m.lock().unwrap();
        if let Some(f) = m.fatal.take() {
            errors.push(format!("{when}: worker {}: {f}", m.worker));
        }
        let actual = |p: &str| -> State { view.get(p).map(|n| (n.stat.version, n.data.clone())) };
        let pending: BTreeMap<&String, &State> = m.pending.iter().map(|(p, s)| (p, s)).collect();
        for p in &m.paths {
            if pending.contains_key(p) {
                continue;
            }
            if actual(p) != m.acked[p] {
                errors.push(format!(
                    "{when}: {p}: acknowledged {} but found {}",
                    show(&m.acked[p]),
                    show(&actual(p))
                ));
            }
        }
        if !m.pending.is_empty() {
            let old = m.pending.iter().all(|(p, _)| actual(p) == m.acked[p]);
            let new = m.pending.iter().all(|(p, s)| actual(p) == *s);
            if new && !old {
                inflight[0] += 1;
            } else if old && !new {
                inflight[1] += 1;
            }
            if !old && !new {
                let detail: Vec<String> = m
                    .pending
                    .iter()
                    .map(|(p, s)| {
                        format!(
                            "{p}: acked {} / if applied {} / found {}",
                            show(&m.acked[p]),
                            show(s),
                            show(&actual(p))
                        )
                    })
                    .collect();
                errors.push(format!(
                    "{when}: an unacknowledged op was applied in part:\n  {}",
                    detail.join("\n  ")
                ));
            }
        }
        // Nothing but the worker's own nodes under its parent.
        let parent = format!("/crash/w{}", m.worker);
        if let Some(n) = view.get(&parent) {
            for ch in &n.children {
                let p = format!("{parent}/{ch}");
                if !m.acked.contains_key(&p) {
                    errors.push(format!("{when}: unexpected node {p}"));
                }
            }
        } else {
            errors.push(format!("{when}: {parent} is missing"));
        }
        let paths = m.paths.clone();
        for p in paths {
            let s = actual(&p);
            m.acked.insert(p, s);
        }
        m.pending.clear();
    }
    errors
}

fn show(s: &State) -> String {
    match s {
        None => "absent".into(),
        Some((v, d)) => format!("v{v} {:?}", String::from_utf8_lossy(&d[..d.len().min(24)])),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn crash_under_load_keeps_every_acknowledged_write() {
    crash_under_load("crash_under_load", 24, false).await;
}

/// The same with the txn log in a dataLogDir of its own (snapshots stay in dataDir).
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn crash_under_load_with_a_separate_log_dir() {
    crash_under_load("crash_under_load_split", 10, true).await;
}

async fn crash_under_load(name: &str, rounds: usize, split_log: bool) {
    const WORKERS: usize = 6;
    const NODES: usize = 12;
    let began = Instant::now();
    let mut rng = Rng::new(seed(name));
    let dir = TestDir::new(name);
    let mut server = ServerProc::new(
        &dir.path,
        &ServerConfig {
            snap_count: Some(50),
            split_log,
            ..Default::default()
        },
    );
    block(|| server.start());
    {
        let c = connect(&server.addr(), 10_000, false).await;
        c.create("/crash", b"", &OPEN).await.expect("create /crash");
        for w in 0..WORKERS {
            c.create(&format!("/crash/w{w}"), b"", &OPEN)
                .await
                .expect("create worker parent");
        }
    }
    let models: Vec<Shared<Model>> = (0..WORKERS)
        .map(|w| Arc::new(Mutex::new(Model::new(w, NODES))))
        .collect();
    // Shut proxies stay bound until the end, so no later listener inherits their clients.
    let mut proxies = Vec::new();
    let (mut kill_times, mut restart_times, mut recover_times) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut snapshots_seen = 0usize;
    let mut inflight = [0u64; 2];
    let mut log_violations: Vec<String> = Vec::new();
    let mut from_snapshot = 0usize;
    for round in 0..rounds {
        let last = round + 1 == rounds;
        let proxy = Proxy::start(server.addr()).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles: Vec<_> = models
            .iter()
            .map(|m| {
                tokio::spawn(worker(
                    proxy.addr.clone(),
                    m.clone(),
                    Rng::new(rng.next_u64()),
                    stop.clone(),
                ))
            })
            .collect();
        let delay = Duration::from_millis(rng.range(30, 700));
        tokio::time::sleep(delay).await;
        let served_before_stop = if last {
            // Let the writers finish their current op, read what is served, then stop.
            stop.store(true, Ordering::SeqCst);
            for h in handles.iter_mut() {
                within(Duration::from_secs(30), "workers to finish", h)
                    .await
                    .expect("worker panicked");
            }
            let c = connect(&server.addr(), 10_000, false).await;
            let view = durability_support::walk(&c).await;
            drop(c);
            // The close of the walker's session is a txn of its own; let it land.
            tokio::time::sleep(Duration::from_millis(200)).await;
            Some(view)
        } else {
            None
        };
        let t = Instant::now();
        block(|| server.kill());
        proxy.shut();
        kill_times.push(t.elapsed());
        if !last {
            for h in handles.drain(..) {
                h.abort();
                if let Err(e) = h.await {
                    if e.is_panic() {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            }
        }
        proxies.push(proxy);

        // The store, recovered offline, has every acknowledged write.
        let offline = block(|| server.recover_offline())
            .unwrap_or_else(|e| panic!("round {round}: offline recovery failed: {e}"));
        recover_times.push(offline.took);
        snapshots_seen = snapshots_seen.max(offline.snapshots.len());
        if offline.snapshot_zxid > 0 {
            from_snapshot += 1;
        }
        // ZooKeeper's invariant: a snapshot never gets ahead of the log, so every stored
        // snapshot plus the log after it rebuilds the state (the fall-back path).
        let newest_snap = offline.snapshots.first().copied().unwrap_or(0);
        if newest_snap > offline.log_range.1 || !offline.log_holes.is_empty() {
            log_violations.push(format!(
                "round {round}: newest snapshot 0x{newest_snap:x}, log 0x{:x}..=0x{:x}, holes {:x?}",
                offline.log_range.0, offline.log_range.1, offline.log_holes
            ));
        }
        if let Some(served) = &served_before_stop {
            assert_same_tree(
                "final: served before the stop vs offline recovery",
                served,
                &offline.tree,
            );
        }
        let errors = check_models_counting(
            &models,
            &offline.tree,
            &format!("round {round} (offline)"),
            &mut inflight,
        );
        assert!(
            errors.is_empty(),
            "round {round}, killed after {delay:?}:\n{}",
            errors.join("\n")
        );
        // The restarted server serves exactly the recovered tree.
        restart_times.push(block(|| server.start()));
        let c = connect(&server.addr(), 10_000, false).await;
        let served = durability_support::walk(&c).await;
        drop(c);
        assert_same_tree(
            &format!("round {round}: recovered offline vs served after restart"),
            &offline.tree,
            &served,
        );
        assert_eq!(
            check_models(&models, &served, &format!("round {round} (served)")),
            Vec::<String>::new()
        );
    }
    block(|| server.kill());
    let acked: u64 = models.iter().map(|m| m.lock().unwrap().acked_ops).sum();
    let offline = block(|| server.recover_offline()).expect("final recovery");
    let max = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{name}: {rounds} kills, {acked} acknowledged ops, last zxid 0x{:x}, \
         unacknowledged ops at the kills: {} applied, {} not; \
         {snapshots_seen} snapshots at most, {from_snapshot} recoveries started from a snapshot; \
         restart max {:?}, offline recovery max {:?}, kill max {:?}; total {:?}",
        offline.last_zxid,
        inflight[0],
        inflight[1],
        max(&restart_times),
        max(&recover_times),
        max(&kill_times),
        began.elapsed()
    );
    assert!(acked > 200, "too little load to mean anything: {acked} ops");
    assert!(
        log_violations.is_empty(),
        "snapshots stored ahead of the durable log (older snapshots then cannot be used):\n{}",
        log_violations.join("\n")
    );
}

// ====================================================================== restarts

async fn wait_connected(c: &zk::Client, what: &str) {
    let mut w = c.state_watcher();
    within(Duration::from_secs(20), what, async {
        loop {
            match w.state() {
                SessionState::SyncConnected => return,
                s if s.is_terminated() => panic!("{what}: session ended: {s:?}"),
                _ => {}
            }
            w.changed().await;
        }
    })
    .await
}

async fn exists(c: &zk::Client, path: &str) -> bool {
    c.check_stat(path)
        .await
        .unwrap_or_else(|e| panic!("exists {path}: {e}"))
        .is_some()
}

/// Everything but the TTL node that may be reaped while the server restarts (and its
/// parent, whose Stat changes then).
fn stable(view: &TreeView) -> TreeView {
    view.iter()
        .filter(|(p, _)| p.as_str() != "/ttl" && p.as_str() != "/ttl/short")
        .map(|(p, n)| (p.clone(), n.clone()))
        .collect()
}

async fn restart_keeps_state(kill: bool) {
    const TIMEOUT_MS: u64 = 4000;
    let name = if kill {
        "restart-kill"
    } else {
        "restart-clean"
    };
    let dir = TestDir::new(name);
    let mut server = ServerProc::new(
        &dir.path,
        &ServerConfig {
            snap_count: Some(50),
            ..Default::default()
        },
    );
    block(|| server.start());
    let addr = server.addr();
    let alice = digest_id("alice", "secret");

    // c1 stays alive across the restart (its client reconnects on its own); e's session is
    // picked up again by a new client with its id and password.
    let c1 = connect(&addr, TIMEOUT_MS, false).await;
    c1.auth("digest", b"alice:secret").await.expect("auth");
    // e talks through a proxy that is shut at the stop, so only the new client can pick
    // its session up.
    let e_proxy = Proxy::start(addr.clone()).await;
    let e = connect(&e_proxy.addr, TIMEOUT_MS, true).await;
    let e_session = e.session().clone();

    c1.create("/r", b"root", &OPEN).await.unwrap();
    for i in 0..3 {
        c1.set_data("/r", format!("v{i}").as_bytes(), None)
            .await
            .unwrap();
    }
    let all = [Acl::new(Permission::ALL, AuthId::anyone())];
    c1.set_acl("/r", &all, None).await.unwrap();
    c1.set_acl("/r", &all, Some(1)).await.unwrap();
    let digest_acl = [
        Acl::new(Permission::ALL, AuthId::new("digest", &alice)),
        Acl::new(Permission::READ, AuthId::anyone()),
    ];
    c1.create(
        "/r/acl-digest",
        b"d",
        &CreateMode::Persistent.with_acls(Acls::new(&digest_acl)),
    )
    .await
    .unwrap();
    c1.set_data("/r/acl-digest", b"d2", Some(0)).await.unwrap();
    let ip_acl = [Acl::new(Permission::ALL, AuthId::new("ip", "127.0.0.1"))];
    c1.create(
        "/r/acl-ip",
        b"i",
        &CreateMode::Persistent.with_acls(Acls::new(&ip_acl)),
    )
    .await
    .unwrap();
    c1.create(
        "/r/acl-ro",
        b"ro",
        &CreateMode::Persistent.with_acls(Acls::anyone_read()),
    )
    .await
    .unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    c1.create("/r/big", &big, &OPEN).await.unwrap();
    c1.create("/r/seq", b"", &OPEN).await.unwrap();
    for k in 0..5 {
        let (_, seq) = c1
            .create("/r/seq/s-", b"", &mode(CreateMode::PersistentSequential))
            .await
            .unwrap();
        assert_eq!(seq.into_i64(), k);
    }
    c1.delete("/r/seq/s-0000000001", None).await.unwrap();
    c1.delete("/r/seq/s-0000000003", None).await.unwrap();
    let (_, eseq) = e
        .create("/r/seq/e-", b"", &mode(CreateMode::EphemeralSequential))
        .await
        .unwrap();
    c1.create("/eph", b"", &OPEN).await.unwrap();
    e.create("/eph/e1", b"one", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    e.create("/eph/e2", b"two", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c1.create("/eph/a1", b"a", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c1.create("/cont", b"", &OPEN).await.unwrap();
    for b in ["/cont/box", "/cont/box2"] {
        c1.create(b, b"", &mode(CreateMode::Container))
            .await
            .unwrap();
        c1.create(&format!("{b}/item"), b"x", &OPEN).await.unwrap();
    }
    c1.create("/ttl", b"", &OPEN).await.unwrap();
    c1.create("/ttl/long", b"L", &with_ttl(600_000))
        .await
        .unwrap();
    // Enough txns for snapshots (snapCount=50): recovery then starts from a snapshot
    // holding the sessions, ephemerals, TTL and container nodes above.
    c1.create("/r/filler", b"", &OPEN).await.unwrap();
    for i in 0..80 {
        c1.set_data("/r/filler", format!("{i}").as_bytes(), None)
            .await
            .unwrap();
    }
    c1.create("/ttl/short", b"S", &with_ttl(6_000))
        .await
        .unwrap();

    let before = durability_support::walk(&c1).await;
    let t = Instant::now();
    if kill {
        block(|| server.kill());
    } else {
        block(|| server.terminate());
    }
    e_proxy.shut();
    drop(e);

    // What the store holds.
    let off: Offline = block(|| recover_offline(&server.data_dir)).expect("offline recovery");
    assert_same_tree(
        "served before the stop vs offline recovery",
        &before,
        &off.tree,
    );
    assert!(
        off.snapshot_zxid > 0,
        "recovery should start from a snapshot (zxid 0x{:x}, snapshots {:?})",
        off.last_zxid,
        off.snapshots
    );
    eprintln!(
        "{name}: recovered from snapshot 0x{:x} + {} txns",
        off.snapshot_zxid, off.replayed
    );
    assert_eq!(off.ttls, vec!["/ttl/long".to_string(), "/ttl/short".into()]);
    assert_eq!(
        off.containers,
        vec!["/cont/box".to_string(), "/cont/box2".into()]
    );
    let e_id = e_session.id().0;
    let c1_id = c1.session_id().0;
    assert!(off.sessions.contains_key(&e_id) && off.sessions.contains_key(&c1_id));
    let mut e_eph = off.ephemerals.get(&e_id).cloned().unwrap_or_default();
    e_eph.sort();
    assert_eq!(
        e_eph,
        vec![
            "/eph/e1".to_string(),
            "/eph/e2".into(),
            format!("/r/seq/e-{:010}", eseq.into_i64())
        ]
    );
    assert_eq!(
        off.ephemerals.get(&c1_id),
        Some(&vec!["/eph/a1".to_string()])
    );

    block(|| server.start());
    eprintln!("{name}: down and back up in {:?}", t.elapsed());
    // e's session, by id and password.
    let e2 = within(
        Duration::from_secs(20),
        "reconnect e",
        zk::Client::connector()
            .with_session(e_session.clone())
            .with_session_timeout(Duration::from_millis(TIMEOUT_MS))
            .with_detached()
            .with_fail_eagerly()
            .connect(&addr),
    )
    .await
    .expect("the session must survive the restart");
    assert_eq!(e2.session_id(), e_session.id());
    wait_connected(&c1, "c1 to reconnect").await;
    assert_eq!(c1.session_id().0, c1_id);

    let after = durability_support::walk(&c1).await;
    assert_same_tree(
        "before vs after the restart",
        &stable(&before),
        &stable(&after),
    );
    assert_eq!(before.get("/ttl/long"), after.get("/ttl/long"));
    for p in ["/ttl/long", "/cont/box"] {
        assert_eq!(after[p].stat.ephemeral_owner, 0, "{p} is not ephemeral");
    }
    assert_eq!(after["/eph/e1"].stat.ephemeral_owner, e_id);
    assert_eq!(after["/eph/a1"].stat.ephemeral_owner, c1_id);
    let (data, _) = c1.get_data("/r/big").await.unwrap();
    assert_eq!(data, big);

    // Counters continue: the sequence number is the parent's count of child creations
    // (ZooKeeper's stored cversion; the visible one, creations + deletions, is
    // 2 * creations - children).
    let seq_parent = &after["/r/seq"].stat;
    let creations = (seq_parent.cversion + seq_parent.num_children) / 2;
    let (stat, seq) = c1
        .create("/r/seq/s-", b"", &mode(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), i64::from(creations));
    assert_eq!(seq.into_i64(), eseq.into_i64() + 1);
    assert!(stat.czxid > off.last_zxid, "zxids continue: {stat:?}");
    let st = c1.set_data("/r", b"after", Some(3)).await.unwrap();
    assert_eq!(st.version, 4);
    c1.set_acl("/r", &all, Some(2)).await.unwrap();
    // The digest ACL still binds: anonymous clients may read, not write.
    let anon = connect(&addr, TIMEOUT_MS, false).await;
    assert!(matches!(
        anon.set_data("/r/acl-digest", b"no", None).await,
        Err(zk::Error::NoAuth)
    ));
    assert!(matches!(
        anon.set_data("/r/acl-ro", b"no", None).await,
        Err(zk::Error::NoAuth)
    ));
    c1.set_data("/r/acl-digest", b"d3", Some(1)).await.unwrap();

    // TTL and container nodes are still reaped.
    let slow = Duration::from_secs(20);
    eventually(slow, "/ttl/short reaped after the restart", || async {
        !exists(&anon, "/ttl/short").await
    })
    .await;
    c1.delete("/cont/box2/item", None).await.unwrap();
    eventually(slow, "/cont/box2 reaped after the restart", || async {
        !exists(&anon, "/cont/box2").await
    })
    .await;
    // e's ephemerals go when its session expires (no close: the client is detached).
    drop(e2);
    eventually(slow, "e's ephemerals gone after its expiry", || async {
        !exists(&anon, "/eph/e1").await && !exists(&anon, "/eph/e2").await
    })
    .await;
    assert!(exists(&anon, "/eph/a1").await, "c1's ephemeral stays");
    assert!(exists(&anon, "/ttl/long").await);
    assert!(exists(&anon, "/cont/box").await);
    drop(anon);

    // What is served now is what the store recovers to.
    let served = durability_support::walk(&c1).await;
    assert!(!served.contains_key(&format!("/r/seq/e-{:010}", eseq.into_i64())));
    block(|| server.kill());
    let off2 = block(|| recover_offline(&server.data_dir)).expect("offline recovery");
    assert_same_tree(
        "served before the last stop vs offline",
        &served,
        &off2.tree,
    );
    assert_eq!(off2.ttls, vec!["/ttl/long".to_string()]);
    assert_eq!(off2.containers, vec!["/cont/box".to_string()]);
    assert!(!off2.sessions.contains_key(&e_id), "e expired");
    assert!(off2.sessions.contains_key(&c1_id), "c1 lives");
    drop(c1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_keeps_sessions_and_node_state() {
    restart_keeps_state(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_restart_keeps_sessions_and_node_state() {
    restart_keeps_state(true).await;
}

// ====================================================================== damaged data

/// Starts a server, creates `n` nodes under `/d` (some set twice), returns what it
/// serves, and stops it with SIGKILL.
async fn populate(server: &mut ServerProc, n: usize) -> TreeView {
    block(|| server.start());
    let c = connect(&server.addr(), 10_000, false).await;
    c.create("/d", b"", &OPEN).await.unwrap();
    for i in 0..n {
        let p = format!("/d/n{i}");
        c.create(&p, format!("data {i}").as_bytes(), &OPEN)
            .await
            .unwrap();
        if i % 3 == 0 {
            c.set_data(&p, format!("again {i}").as_bytes(), None)
                .await
                .unwrap();
        }
    }
    let view = durability_support::walk(&c).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    block(|| server.kill());
    view
}

/// The raw log: (zxid, stored value = Adler32 ‖ entry), and the newest snapshot's zxid.
fn raw_log(data_dir: &Path) -> (Vec<(i64, Vec<u8>)>, i64) {
    let store = RocksStore::open(data_dir).expect("open store");
    let txns = store.txns_after(0).expect("read log");
    let newest = store
        .snapshot_zxids()
        .expect("snapshots")
        .first()
        .copied()
        .unwrap_or(0);
    let raw = txns
        .into_iter()
        .map(|(z, e)| {
            let mut v = adler2::adler32_slice(&e).to_be_bytes().to_vec();
            v.extend_from_slice(&e);
            (z, v)
        })
        .collect();
    (raw, newest)
}

fn put_raw(data_dir: &Path, zxid: i64, value: &[u8]) {
    let store = RocksStore::open(data_dir).expect("open store");
    store.put_raw_log_value(zxid, value).expect("put raw");
}

fn with_sum(entry: &[u8]) -> Vec<u8> {
    let mut v = adler2::adler32_slice(entry).to_be_bytes().to_vec();
    v.extend_from_slice(entry);
    v
}

/// Opens the RocksDB directly (for what RocksStore has no call for: deleting a log entry,
/// overwriting a snapshot chunk).
fn raw_db(data_dir: &Path) -> rocksdb::DB {
    let path = data_dir.join("ferrokeeper-db");
    let opts = rocksdb::Options::default();
    let cfs = rocksdb::DB::list_cf(&opts, &path).expect("list column families");
    rocksdb::DB::open_cf(&opts, &path, cfs).expect("open RocksDB")
}

async fn served_view(server: &mut ServerProc) -> TreeView {
    block(|| server.start());
    let c = connect(&server.addr(), 10_000, false).await;
    let v = durability_support::walk(&c).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(100)).await;
    block(|| server.kill());
    v
}

fn expect_refusal(server: &mut ServerProc, what: &str, needles: &[String]) {
    let (status, text) = block(|| server.start_expecting_failure());
    assert!(!status.success(), "{what}: exit status {status}");
    let lower = text.to_lowercase();
    for n in needles {
        assert!(
            lower.contains(&n.to_lowercase()),
            "{what}: the start-up failure does not mention {n:?}:\n{text}"
        );
    }
    let line = text
        .lines()
        .find(|l| l.contains("ferrokeeper:"))
        .unwrap_or_default();
    eprintln!("{what}: {status}: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_log_entry_stops_startup_naming_the_zxid() {
    let dir = TestDir::new("damaged-entry");
    let mut server = ServerProc::new(&dir.path, &ServerConfig::default());
    let served = populate(&mut server, 40).await;
    let (log, newest_snap) = block(|| raw_log(&server.data_dir));
    let after_snap: Vec<&(i64, Vec<u8>)> = log.iter().filter(|(z, _)| *z > newest_snap).collect();
    assert!(
        after_snap.len() > 10,
        "{} entries after the snapshot",
        after_snap.len()
    );
    let (z, original) = after_snap[after_snap.len() / 2].clone();
    let (prev_z, prev_entry) = after_snap[after_snap.len() / 2 - 1].clone();
    let (last_z, last_original) = after_snap[after_snap.len() - 1].clone();
    let hex = |z: i64| format!("0x{z:x}");

    let damages: Vec<(&str, i64, Vec<u8>, &str)> = vec![
        (
            "garbage",
            z,
            b"this is not a txn at all".to_vec(),
            "checksum",
        ),
        ("one byte", z, vec![7], "truncated"),
        (
            "flipped bit",
            z,
            {
                let mut v = original.clone();
                let i = v.len() / 2;
                v[i] ^= 0x10;
                v
            },
            "checksum",
        ),
        (
            "summed garbage",
            z,
            with_sum(b"\x00\x00\x00\x01garbage that is summed"),
            "decode",
        ),
        ("another txn", z, prev_entry.clone(), "carries zxid"),
        ("last entry", last_z, b"torn?".to_vec(), "checksum"),
    ];
    for (what, at, value, why) in damages {
        block(|| put_raw(&server.data_dir, at, &value));
        expect_refusal(&mut server, what, &[hex(at), why.to_string()]);
        let restore = if at == z { &original } else { &last_original };
        block(|| put_raw(&server.data_dir, at, restore));
    }
    let _ = prev_z;
    // Repaired, the store serves everything again.
    let again = served_view(&mut server).await;
    assert_same_tree(
        "after repairing the log",
        &subtree(&served, "/d"),
        &subtree(&again, "/d"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_in_the_log_stops_startup() {
    let dir = TestDir::new("gap");
    let mut server = ServerProc::new(&dir.path, &ServerConfig::default());
    let served = populate(&mut server, 30).await;
    let (log, newest_snap) = block(|| raw_log(&server.data_dir));
    let after_snap: Vec<&(i64, Vec<u8>)> = log.iter().filter(|(z, _)| *z > newest_snap).collect();
    assert!(after_snap.len() > 10);
    let hex = |z: i64| format!("0x{z:x}");

    // A missing entry in the middle.
    let (z, original) = after_snap[after_snap.len() / 2].clone();
    block(|| {
        let db = raw_db(&server.data_dir);
        let cf = db.cf_handle("txnlog").expect("txnlog column family");
        db.delete_cf(cf, (z as u64).to_be_bytes())
            .expect("delete entry");
    });
    expect_refusal(
        &mut server,
        "missing entry",
        &["gap".into(), hex(z - 1), hex(z + 1)],
    );
    block(|| put_raw(&server.data_dir, z, &original));

    // An entry beyond the end, one zxid skipped (a well-formed txn carrying its zxid).
    let (last, last_raw) = log.last().cloned().expect("log");
    let far = last + 2;
    let mut entry = ferrokeeper::proto::TxnEntry::from_bytes(&last_raw[4..]).expect("decode");
    entry.header.zxid = far;
    let bytes = entry.to_bytes().to_vec();
    block(|| {
        let store = RocksStore::open(&server.data_dir).expect("open");
        store.append_txns(&[(far, bytes)], true).expect("append");
    });
    expect_refusal(
        &mut server,
        "skipped zxid",
        &["gap".into(), hex(last), hex(far)],
    );
    block(|| {
        let db = raw_db(&server.data_dir);
        let cf = db.cf_handle("txnlog").expect("txnlog column family");
        db.delete_cf(cf, (far as u64).to_be_bytes())
            .expect("delete entry");
    });

    let again = served_view(&mut server).await;
    assert_same_tree(
        "after closing the gap",
        &subtree(&served, "/d"),
        &subtree(&again, "/d"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_newest_snapshot_falls_back_to_an_older_one() {
    let dir = TestDir::new("snapshots");
    let mut server = ServerProc::new(
        &dir.path,
        &ServerConfig {
            snap_count: Some(50),
            ..Default::default()
        },
    );
    let served = populate(&mut server, 200).await;
    let off = block(|| recover_offline(&server.data_dir)).expect("recovery");
    assert_same_tree("served vs recovered", &served, &off.tree);
    assert!(
        off.snapshots.len() >= 2,
        "snapCount=50 and zxid 0x{:x}, yet {} snapshots are stored (snapshots not wired in?)",
        off.last_zxid,
        off.snapshots.len()
    );
    let (newest, previous) = (off.snapshots[0], off.snapshots[1]);
    assert_eq!(
        off.snapshot_zxid, newest,
        "recovery starts from the newest snapshot"
    );
    assert_eq!(
        off.replayed as i64,
        off.last_zxid - newest,
        "only the log after the snapshot is replayed"
    );
    eprintln!(
        "snapshots: {} stored, newest 0x{newest:x}, last zxid 0x{:x}",
        off.snapshots.len(),
        off.last_zxid
    );

    let chunk_key = |z: i64| {
        let mut k = (z as u64).to_be_bytes().to_vec();
        k.extend_from_slice(&0u32.to_be_bytes());
        k
    };
    // 1. A damaged chunk (fails the store's checksum).
    let original_chunk = block(|| {
        let db = raw_db(&server.data_dir);
        let cf = db.cf_handle("snapshot").expect("snapshot column family");
        let chunk = db
            .get_cf(cf, chunk_key(newest))
            .expect("get")
            .expect("chunk 0");
        let mut bad = chunk.clone();
        let i = bad.len() / 2;
        bad[i] ^= 0xff;
        db.put_cf(cf, chunk_key(newest), bad).expect("put");
        chunk
    });
    let off1 = block(|| recover_offline(&server.data_dir)).expect("recovery past a bad chunk");
    assert_eq!(
        off1.snapshot_zxid, previous,
        "falls back to the previous snapshot"
    );
    assert_same_tree("recovered past a damaged chunk", &served, &off1.tree);
    let view = served_view(&mut server).await;
    assert_same_tree(
        "served past a damaged chunk",
        &subtree(&served, "/d"),
        &subtree(&view, "/d"),
    );

    // 2. Bytes that pass the store's checksum but not the snapshot format's own.
    block(|| {
        let db = raw_db(&server.data_dir);
        let cf = db.cf_handle("snapshot").expect("snapshot column family");
        db.put_cf(cf, chunk_key(newest), &original_chunk)
            .expect("put");
    });
    let off2 = block(|| recover_offline(&server.data_dir)).expect("recovery");
    assert_eq!(
        off2.snapshot_zxid, newest,
        "the repaired snapshot is used again"
    );
    block(|| {
        let store = RocksStore::open(&server.data_dir).expect("open");
        let mut bytes = store.get_snapshot(newest).expect("snapshot");
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        store.put_snapshot(newest, &bytes).expect("rewrite");
    });
    let off3 = block(|| recover_offline(&server.data_dir)).expect("recovery past a bad snapshot");
    assert_eq!(
        off3.snapshot_zxid, previous,
        "falls back to the previous snapshot"
    );
    assert_same_tree("recovered past a damaged snapshot", &served, &off3.tree);
    let view = served_view(&mut server).await;
    assert_same_tree(
        "served past a damaged snapshot",
        &subtree(&served, "/d"),
        &subtree(&view, "/d"),
    );

    // 3. No snapshot at all: the whole log.
    block(|| {
        let store = RocksStore::open(&server.data_dir).expect("open");
        for z in store.snapshot_zxids().expect("list") {
            store.delete_snapshot(z).expect("delete");
        }
    });
    let off4 = block(|| recover_offline(&server.data_dir)).expect("recovery from the log");
    assert_eq!(off4.snapshot_zxid, 0);
    assert_same_tree(
        "recovered from the log alone",
        &subtree(&served, "/d"),
        &subtree(&off4.tree, "/d"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_wal_tail_is_cut_and_acknowledged_writes_survive() {
    let dir = TestDir::new("torn-wal");
    let mut server = ServerProc::new(&dir.path, &ServerConfig::default());
    block(|| server.start());
    let c = connect(&server.addr(), 10_000, true).await;
    c.create("/w", b"", &OPEN).await.unwrap();
    let mut acked = BTreeMap::new();
    for i in 0..60 {
        let p = format!("/w/n{i}");
        let data = format!("value {i}").repeat(i % 7 + 1).into_bytes();
        c.create(&p, &data, &OPEN).await.unwrap();
        let mut version = 0;
        if i % 4 == 0 {
            let d2 = format!("second {i}").into_bytes();
            version = c.set_data(&p, &d2, None).await.unwrap().version;
            acked.insert(p, (version, d2));
        } else {
            acked.insert(p, (version, data));
        }
    }
    // The last write: its batch is the WAL's last record, which the cut tears.
    c.create("/w/sacrificial", b"last", &OPEN).await.unwrap();
    block(|| server.kill());
    drop(c);

    let db_dir = server.data_dir.join("ferrokeeper-db");
    let mut wals: Vec<_> = std::fs::read_dir(&db_dir)
        .expect("list db dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    wals.sort();
    let newest = wals.last().expect("a WAL file").clone();
    let len = std::fs::metadata(&newest).expect("stat WAL").len();
    assert!(len > 16, "{} is {len} bytes", newest.display());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&newest)
        .and_then(|f| f.set_len(len - 3))
        .expect("truncate WAL");

    block(|| server.start());
    let c = connect(&server.addr(), 10_000, false).await;
    for (p, (v, d)) in &acked {
        let (data, stat) = c
            .get_data(p)
            .await
            .unwrap_or_else(|e| panic!("{p} lost after the WAL cut: {e}"));
        assert_eq!((stat.version, &data), (*v, d), "{p}");
    }
    assert!(
        !exists(&c, "/w/sacrificial").await,
        "the torn last record should be gone (was the cut in the last record?)"
    );
    // And it goes on: new writes get the zxids after the cut.
    let (stat, _) = c.create("/w/after", b"x", &OPEN).await.unwrap();
    let served = durability_support::walk(&c).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    block(|| server.kill());
    let off = block(|| recover_offline(&server.data_dir)).expect("recovery");
    assert!(off.last_zxid > stat.czxid);
    assert_same_tree("served vs recovered after the cut", &served, &off.tree);
}
