//! Helpers for `tests/durability.rs`: a temp data directory per test, the real
//! `ferrokeeper` binary as a child process (start, SIGKILL, SIGTERM, start that must
//! fail), a TCP proxy that can be shut for good, tree walks over the wire and offline
//! recovery of the store, and a small seeded RNG.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read as _;
use std::net::TcpStream as StdTcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha1::Digest as _;
use tokio::net::{TcpListener, TcpStream};
use zookeeper_client as zk;

use ferrokeeper::storage::rocks::{recover, recover_split, RocksStore};

/// How long a server may take to recover and bind.
pub const START_LIMIT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------ temp dirs

/// A fresh directory under the system temp dir; removed on drop unless the test failed
/// (then its path is printed so the data and server logs can be inspected).
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "ferrokeeper-durability-{name}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create test dir");
        TestDir { path }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test data kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

// ------------------------------------------------------------------ the server process

/// How a test's server is configured.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub tick_time_ms: u32,
    /// None: the default (100000, i.e. no snapshot in a short test).
    pub snap_count: Option<u32>,
    /// Extra zoo.cfg lines.
    pub extra: Vec<String>,
    /// Put the txn log in a dataLogDir of its own (`dir/datalog`).
    pub split_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time_ms: 200,
            snap_count: None,
            extra: Vec::new(),
            split_log: false,
        }
    }
}

/// The `ferrokeeper` binary serving one data directory on one port, restartable.
pub struct ServerProc {
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    /// The dataLogDir, when the log has a store of its own.
    pub log_dir: Option<PathBuf>,
    pub port: u16,
    cfg_path: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl ServerProc {
    /// Writes zoo.cfg into `dir` (data in `dir/data`); does not start.
    pub fn new(dir: &Path, cfg: &ServerConfig) -> ServerProc {
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir).expect("create data dir");
        let port = free_port();
        let mut text = format!(
            "tickTime={}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n",
            cfg.tick_time_ms,
            data_dir.display()
        );
        let log_dir = cfg.split_log.then(|| dir.join("datalog"));
        if let Some(d) = &log_dir {
            text.push_str(&format!("dataLogDir={}\n", d.display()));
        }
        if let Some(n) = cfg.snap_count {
            text.push_str(&format!("snapCount={n}\n"));
        }
        for l in &cfg.extra {
            text.push_str(l);
            text.push('\n');
        }
        let cfg_path = dir.join("zoo.cfg");
        std::fs::write(&cfg_path, text).expect("write zoo.cfg");
        ServerProc {
            dir: dir.to_path_buf(),
            data_dir,
            log_dir,
            port,
            cfg_path,
            child: None,
            starts: 0,
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> (Child, PathBuf, PathBuf) {
        self.starts += 1;
        let out = self.dir.join(format!("server.{}.stdout", self.starts));
        let err = self.dir.join(format!("server.{}.stderr", self.starts));
        let child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
            .arg("server")
            .arg(&self.cfg_path)
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .arg("-Dznode.container.checkIntervalMs=200")
            .args(["--log-level", "info"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("spawn ferrokeeper");
        (child, out, err)
    }

    /// Starts the server and waits until it accepts connections (it binds its port only
    /// after recovery). Panics with the server's output if it exits instead.
    pub fn start(&mut self) -> Duration {
        assert!(self.child.is_none(), "server already running");
        let began = Instant::now();
        let (mut child, out, err) = self.spawn();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "server exited during start-up ({status}):\n--- stdout\n{}\n--- stderr\n{}",
                    read_lossy(&out),
                    read_lossy(&err)
                );
            }
            if StdTcpStream::connect_timeout(
                &format!("127.0.0.1:{}", self.port).parse().unwrap(),
                Duration::from_millis(200),
            )
            .is_ok()
            {
                break;
            }
            if began.elapsed() > START_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not accept connections within {START_LIMIT:?}:\n{}",
                    read_lossy(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child = Some(child);
        began.elapsed()
    }

    /// Starts the server on a data directory it must refuse: waits for it to exit and
    /// returns its status and its stdout+stderr. Panics if it starts serving instead.
    pub fn start_expecting_failure(&mut self) -> (ExitStatus, String) {
        assert!(self.child.is_none(), "server already running");
        let began = Instant::now();
        let (mut child, out, err) = self.spawn();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let text = format!("{}\n{}", read_lossy(&out), read_lossy(&err));
                return (status, text);
            }
            let serving = StdTcpStream::connect_timeout(
                &format!("127.0.0.1:{}", self.port).parse().unwrap(),
                Duration::from_millis(200),
            )
            .is_ok();
            if serving || began.elapsed() > START_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server started serving a damaged data directory (serving: {serving}):\n{}",
                    read_lossy(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server not running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the server");
    }

    /// SIGTERM (the server has no shutdown hook: it exits at once), then reap.
    pub fn terminate(&mut self) {
        let mut child = self.child.take().expect("server not running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = child.kill();
        }
        child.wait().expect("reap the server");
    }

    /// The latest run's stdout and stderr.
    pub fn last_output(&self) -> String {
        format!(
            "{}\n{}",
            read_lossy(&self.dir.join(format!("server.{}.stdout", self.starts))),
            read_lossy(&self.dir.join(format!("server.{}.stderr", self.starts)))
        )
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Recovers the stopped server's store offline.
    pub fn recover_offline(&self) -> Result<Offline, String> {
        recover_offline_split(&self.data_dir, self.log_dir.as_deref())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn read_lossy(p: &Path) -> String {
    let mut b = Vec::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_end(&mut b);
    }
    String::from_utf8_lossy(&b).into_owned()
}

// ------------------------------------------------------------------ clients

/// A client with the given session timeout; detached sessions are not closed on drop.
pub async fn connect(addr: &str, timeout_ms: u64, detached: bool) -> zk::Client {
    let mut c = zk::Client::connector()
        .with_session_timeout(Duration::from_millis(timeout_ms))
        .with_fail_eagerly();
    if detached {
        c = c.with_detached();
    }
    within(Duration::from_secs(20), "connect", c.connect(addr))
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// `user:base64(sha1("user:password"))`, the digest scheme's ACL id.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Awaits `fut`, panicking with `what` after `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Polls `check` every 50 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("condition not reached within {limit:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------ tree views

/// A node's Stat, from either side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatView {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl From<&zk::Stat> for StatView {
    fn from(s: &zk::Stat) -> Self {
        StatView {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
            pzxid: s.pzxid,
        }
    }
}

impl From<&ferrokeeper::proto::Stat> for StatView {
    fn from(s: &ferrokeeper::proto::Stat) -> Self {
        StatView {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
            pzxid: s.pzxid,
        }
    }
}

/// A node as seen by a client (or rebuilt offline): data, Stat, ACL (perms, scheme, id)
/// and sorted child names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub data: Vec<u8>,
    pub stat: StatView,
    pub acl: Vec<(i32, String, String)>,
    pub children: Vec<String>,
}

/// path -> node.
pub type TreeView = BTreeMap<String, NodeView>;

fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn perm_bits(p: zk::Permission) -> i32 {
    [
        (zk::Permission::READ, 1),
        (zk::Permission::WRITE, 2),
        (zk::Permission::CREATE, 4),
        (zk::Permission::DELETE, 8),
        (zk::Permission::ADMIN, 16),
    ]
    .into_iter()
    .filter(|(bit, _)| p.has(*bit))
    .map(|(_, v)| v)
    .sum()
}

/// Reads every node the client may read (the whole tree for the tests' ACLs).
pub async fn walk(c: &zk::Client) -> TreeView {
    within(Duration::from_secs(60), "tree walk", async {
        let mut out = TreeView::new();
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            let (data, stat) = match c.get_data(&p).await {
                Ok(x) => x,
                Err(zk::Error::NoNode) => continue,
                Err(e) => panic!("getData {p}: {e}"),
            };
            let (acl, _) = c
                .get_acl(&p)
                .await
                .unwrap_or_else(|e| panic!("getACL {p}: {e}"));
            let mut children = match c.list_children(&p).await {
                Ok(ch) => ch,
                Err(zk::Error::NoNode) => continue,
                Err(e) => panic!("getChildren {p}: {e}"),
            };
            children.sort();
            for ch in &children {
                stack.push(join(&p, ch));
            }
            let mut acl: Vec<(i32, String, String)> = acl
                .iter()
                .map(|a| {
                    (
                        perm_bits(a.permission()),
                        a.scheme().to_string(),
                        a.id().to_string(),
                    )
                })
                .collect();
            acl.sort();
            out.insert(
                p,
                NodeView {
                    data,
                    stat: StatView::from(&stat),
                    acl,
                    children,
                },
            );
        }
        out
    })
    .await
}

/// What offline recovery of a data directory rebuilt.
pub struct Offline {
    pub tree: TreeView,
    pub last_zxid: i64,
    pub snapshot_zxid: i64,
    pub replayed: usize,
    pub sessions: BTreeMap<i64, i32>,
    /// (ttl paths, container paths)
    pub ttls: Vec<String>,
    pub containers: Vec<String>,
    /// session -> its ephemerals
    pub ephemerals: BTreeMap<i64, Vec<String>>,
    pub snapshots: Vec<i64>,
    /// The zxid range the stored log covers, (first, last); (0, 0) when empty.
    pub log_range: (i64, i64),
    /// Places where the stored log skips zxids: (before, after).
    pub log_holes: Vec<(i64, i64)>,
    pub took: Duration,
}

/// Opens the store of `data_dir` (the server must be stopped) and recovers it as the
/// server would.
pub fn recover_offline(data_dir: &Path) -> Result<Offline, String> {
    recover_offline_split(data_dir, None)
}

/// Offline recovery with the log in a store of its own (dataLogDir).
pub fn recover_offline_split(data_dir: &Path, log_dir: Option<&Path>) -> Result<Offline, String> {
    let began = Instant::now();
    let store = RocksStore::open(data_dir).map_err(|e| e.to_string())?;
    let snapshots = store.snapshot_zxids().map_err(|e| e.to_string())?;
    let log_store = match log_dir {
        None => None,
        Some(d) => Some(RocksStore::open(d).map_err(|e| e.to_string())?),
    };
    let (log_range, log_holes) = {
        let log = log_store.as_ref().unwrap_or(&store);
        let zxids: Vec<i64> = log
            .txns_after(0)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(z, _)| z)
            .collect();
        let holes = zxids
            .windows(2)
            .filter(|w| !ferrokeeper::storage::recovery::follows(w[0], w[1]))
            .map(|w| (w[0], w[1]))
            .collect();
        let range = (
            zxids.first().copied().unwrap_or(0),
            zxids.last().copied().unwrap_or(0),
        );
        (range, holes)
    };
    let rec = match &log_store {
        None => recover(&store, true),
        Some(l) => recover_split(&store, l, true),
    }
    .map_err(|e| e.to_string())?;
    let tree = &rec.tree;
    let mut out = TreeView::new();
    for (path, node) in tree.preorder() {
        let stat = tree.stat(&path).expect("stat of a listed node");
        let mut acl: Vec<(i32, String, String)> = tree
            .acl(node)
            .iter()
            .map(|a| (a.perms, a.id.scheme.clone(), a.id.id.clone()))
            .collect();
        acl.sort();
        let mut children: Vec<String> = tree.child_names(node);
        children.sort();
        out.insert(
            path,
            NodeView {
                data: node.data().unwrap_or_default().to_vec(),
                stat: StatView::from(&stat),
                acl,
                children,
            },
        );
    }
    let ephemerals = rec
        .sessions
        .keys()
        .map(|s| (*s, tree.ephemerals_of(*s)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    Ok(Offline {
        tree: out,
        last_zxid: rec.last_zxid,
        snapshot_zxid: rec.snapshot_zxid,
        replayed: rec.replayed,
        sessions: rec.sessions.clone(),
        ttls: tree.ttls().iter().cloned().collect(),
        containers: tree.containers().iter().cloned().collect(),
        ephemerals,
        snapshots,
        log_range,
        log_holes,
        took: began.elapsed(),
    })
}

/// Asserts two tree views are equal, listing the first differences.
pub fn assert_same_tree(what: &str, expected: &TreeView, actual: &TreeView) {
    let mut diffs = Vec::new();
    for (p, n) in expected {
        match actual.get(p) {
            None => diffs.push(format!("missing {p}")),
            Some(m) if m != n => diffs.push(format!(
                "differs {p}:\n   expected {n:?}\n   actual   {m:?}"
            )),
            Some(_) => {}
        }
    }
    for p in actual.keys() {
        if !expected.contains_key(p) {
            diffs.push(format!("unexpected {p}"));
        }
    }
    if !diffs.is_empty() {
        let n = diffs.len();
        diffs.truncate(12);
        panic!("{what}: {n} differences:\n{}", diffs.join("\n"));
    }
}

/// Only the paths under (and including) `root`.
pub fn subtree(view: &TreeView, root: &str) -> TreeView {
    let prefix = format!("{root}/");
    view.iter()
        .filter(|(p, _)| p.as_str() == root || p.starts_with(&prefix))
        .map(|(p, n)| (p.clone(), n.clone()))
        .collect()
}

// ------------------------------------------------------------------ a proxy that shuts for good

/// A TCP proxy in front of the server. `shut` drops every forwarded connection and from
/// then on accepts and drops connections: clients of a shut proxy can never reach the
/// server again (and the port stays taken, so no later listener inherits them).
pub struct Proxy {
    pub addr: String,
    shut: Arc<AtomicBool>,
    kill: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let shut = Arc::new(AtomicBool::new(false));
        let (kill, _) = tokio::sync::watch::channel(false);
        let (s, k) = (shut.clone(), kill.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut down, _)) = listener.accept().await else {
                    continue;
                };
                if s.load(Ordering::SeqCst) {
                    drop(down);
                    continue;
                }
                let mut killed = k.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut up) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    if *killed.borrow() {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                        _ = killed.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            shut,
            kill,
            task,
        }
    }

    /// Cuts every connection and refuses the proxy's clients from now on.
    pub fn shut(&self) {
        self.shut.store(true, Ordering::SeqCst);
        let _ = self.kill.send(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shut();
        self.task.abort();
    }
}

// ------------------------------------------------------------------ seeded randomness

/// SplitMix64: small, seedable, good enough for choosing ops and delays.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }

    /// True with probability `pct`%.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.range(0, 100) < pct
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// The seed: `FERROKEEPER_DURABILITY_SEED` if set, else the clock (printed either way).
pub fn seed(test: &str) -> u64 {
    let s = std::env::var("FERROKEEPER_DURABILITY_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test}: seed {s} (set FERROKEEPER_DURABILITY_SEED={s} to repeat)");
    s
}

/// A shared, lockable value (models updated by worker tasks).
pub type Shared<T> = Arc<Mutex<T>>;
