//! Helpers for `tests/zk_client.rs`: where the server is (in-process Ferrokeeper
//! or `ZK_TEST_ADDR`), per-test base paths, digests, waiting, and a TCP proxy
//! that can cut a client off from the server (to let its session expire).

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sha1::Digest as _;
use tokio::net::{TcpListener, TcpStream};
use zookeeper_client as zk;

/// Users whose digest credentials tests use; the cleanup client authenticates
/// as all of them so it can remove whatever a previous run left behind.
pub const USERS: &[(&str, &str)] = &[("alice", "secret"), ("bob", "hunter2")];

/// Root under which every test gets its own base node.
pub const ROOT: &str = "/zk_client_tests";

/// Default wait for something that should happen promptly.
pub const SOON: Duration = Duration::from_secs(5);

/// Where a test runs.
pub struct Env {
    /// host:port of the server.
    pub addr: String,
    /// The test's own base path (exists and is empty when `env` returns).
    pub base: String,
    /// True when running against `ZK_TEST_ADDR`.
    pub external: bool,
}

impl Env {
    /// `base/rel`.
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{}", self.base, rel)
    }

    /// A new session with the default (10 s) timeout.
    pub async fn client(&self) -> zk::Client {
        self.connector().connect(&self.addr).await.expect("connect")
    }

    /// A connector with the suite's defaults (10 s sessions; a server that is
    /// not there fails the test at once instead of after the session timeout).
    pub fn connector(&self) -> zk::Connector {
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .with_fail_eagerly()
    }

    /// A new session authenticated as `user` (digest scheme).
    pub async fn client_as(&self, user: &str, password: &str) -> zk::Client {
        let c = self.client().await;
        c.auth("digest", format!("{user}:{password}").as_bytes())
            .await
            .expect("digest auth");
        c
    }
}

/// Starts (or locates) the server and prepares an empty `ROOT/name`.
pub async fn env(name: &str) -> Env {
    let (addr, external) = match std::env::var("ZK_TEST_ADDR") {
        Ok(a) if !a.trim().is_empty() => (server_for(name, a.trim()), true),
        _ => (start_in_process().await, false),
    };
    let mut env = Env {
        addr,
        base: format!("{ROOT}/{name}"),
        external,
    };
    let admin = env.client().await;
    for (u, p) in USERS {
        admin
            .auth("digest", format!("{u}:{p}").as_bytes())
            .await
            .expect("admin auth");
    }
    if let Err(e) = try_delete_tree(&admin, &env.base).await {
        // Something a crashed earlier run left behind that we may not remove:
        // use a fresh base instead.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        eprintln!("cannot clean {}: {e}; using a fresh base path", env.base);
        env.base = format!("{ROOT}/{name}-{nanos}");
    }
    match admin
        .create(
            ROOT,
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
    {
        Ok(_) | Err(zk::Error::NodeExists) => {}
        Err(e) => panic!("create {ROOT}: {e}"),
    }
    admin
        .create(
            &env.base,
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .expect("create base");
    env
}

/// One server of `addrs` (`host:port,...`) for the test `name`: a test's sessions
/// see each other's writes at once only on one server, and different tests land
/// on different servers.
fn server_for(name: &str, addrs: &str) -> String {
    let list: Vec<&str> = addrs.split(',').map(str::trim).collect();
    let h = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    list[h as usize % list.len()].to_string()
}

async fn start_in_process() -> String {
    let mut cfg = ferrokeeper::config::Config::default_standalone();
    cfg.client_port = 0;
    cfg.extended_types_enabled = true;
    cfg.container_check_interval_ms = 200;
    cfg.max_client_cnxns = 0;
    let server = ferrokeeper::server::Server::bind_in_memory(cfg)
        .await
        .expect("bind in-process server");
    let addr = server.local_addr().expect("local addr");
    tokio::spawn(server.run());
    addr.to_string()
}

/// Deletes `path` and everything below it (missing nodes are fine).
pub async fn delete_tree(c: &zk::Client, path: &str) {
    if let Err(e) = try_delete_tree(c, path).await {
        panic!("cleanup: {e}");
    }
}

/// Deletes `path` and everything below it; missing nodes are fine.
pub async fn try_delete_tree(c: &zk::Client, path: &str) -> Result<(), String> {
    let mut stack = vec![(path.to_string(), false)];
    while let Some((p, expanded)) = stack.pop() {
        if expanded {
            match c.delete(&p, None).await {
                Ok(()) | Err(zk::Error::NoNode) => {}
                Err(e) => return Err(format!("delete {p}: {e}")),
            }
            continue;
        }
        match c.list_children(&p).await {
            Ok(children) => {
                stack.push((p.clone(), true));
                for ch in children {
                    stack.push((format!("{p}/{ch}"), false));
                }
            }
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(format!("list {p}: {e}")),
        }
    }
    Ok(())
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

/// A TCP proxy in front of the server that can drop every connection and
/// refuse new ones, to simulate a client cut off from the server.
pub struct Proxy {
    /// Address clients should connect to.
    pub addr: String,
    blocked: Arc<AtomicBool>,
    kill: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream`, a
    /// `host:port` or a list `host:port,host:port,...` (an ensemble): each new
    /// connection goes to the next server in turn (the one after it if that one
    /// refuses), as a client given all the addresses would move between them.
    pub async fn start(upstream: String) -> Proxy {
        let upstreams: Arc<Vec<String>> = Arc::new(
            upstream
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
        );
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let blocked = Arc::new(AtomicBool::new(false));
        let (kill, _) = tokio::sync::watch::channel(0u64);
        let (b, k) = (blocked.clone(), kill.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut down, _)) = listener.accept().await else {
                    continue;
                };
                if b.load(Ordering::SeqCst) {
                    drop(down);
                    continue;
                }
                let mut killed = k.subscribe();
                let upstreams = upstreams.clone();
                let first = next.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut up = None;
                    for i in 0..upstreams.len() {
                        let a = &upstreams[(first + i) % upstreams.len()];
                        if let Ok(s) = TcpStream::connect(a).await {
                            up = Some(s);
                            break;
                        }
                    }
                    let Some(mut up) = up else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                        _ = killed.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            blocked,
            kill,
        }
    }

    /// Drops all proxied connections and refuses new ones.
    pub fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.kill.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}
