//! The client-facing server: listener, connections, the core, four-letter words.

pub mod admin;
pub(crate) mod assemble;
pub mod clock;
mod commit;
#[cfg(test)]
mod commit_tests;
mod confirm;
#[cfg(test)]
mod confirm_tests;
pub mod conn;
pub mod core;
pub mod envinfo;
pub mod facts;
pub mod fourlw;
pub mod frame;
pub mod metrics;
pub mod mntr;
#[cfg(test)]
mod ops_role_tests;
pub mod outlets;
pub(crate) mod read_only;
#[cfg(test)]
mod read_only_tests;
mod requests;
pub(crate) mod role;
#[cfg(test)]
mod role_tests;
pub(crate) mod sasl;
/// The Kerberos service credential of a GSSAPI login, acquired before the runtime starts.
pub use sasl::gssapi::{init as init_kerberos, KerberosSetupError};
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::server::core::{Core, CoreMsg};
use crate::storage::snapshotting::Snapshotter;
use crate::storage::writer::{Ack, LogWriter};
use crate::storage::{MemLog, StorageError, TxnLog};

/// Why the server could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The client port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The data directory could not be opened or recovered.
    #[error("cannot load the data directory {dir}: {source}")]
    Storage {
        /// The directory.
        dir: String,
        /// The cause.
        source: StorageError,
    },
    /// The task serving clients ended abnormally.
    #[error("the client listener stopped: {0}")]
    Listener(#[from] tokio::task::JoinError),
    /// The client port's TLS could not be set up (stores, settings).
    #[error("cannot set up TLS on the client port: {0}")]
    Tls(#[from] tls::TlsError),
    /// The txn log could not be written: the node stopped without answering the writes
    /// it had not made durable (ZooKeeper ends the server the same way).
    #[error("the txn log failed, stopping: {0}")]
    Log(StorageError),
}

/// Requests queued toward the core before connections wait.
const CORE_QUEUE: usize = 16_384;
/// A hard cap on connections, whatever maxClientCnxns says.
const MAX_CONNECTIONS: usize = 60_000;

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    /// `secureClientPort`'s listener, TLS only.
    secure: Option<TcpListener>,
    /// The TLS of the secure port and of a `client.portUnification` client port.
    tls: Option<Arc<tls::ServerTls>>,
    cfg: Arc<Config>,
    core: Core,
    log: Box<dyn TxnLog>,
    snapshotter: Option<Box<dyn Snapshotter>>,
    /// acceptedEpoch and currentEpoch (used in an ensemble only).
    epochs: Box<dyn crate::storage::epoch::EpochStore>,
}

impl Server {
    /// Recovers the data directory and binds the client port.
    #[cfg(feature = "rocksdb")]
    pub async fn bind(cfg: Config) -> Result<Server, ServerError> {
        let cfg = Arc::new(cfg);
        let storage_err = |source| ServerError::Storage {
            dir: cfg.data_dir.display().to_string(),
            source,
        };
        let (core, log, snapshotter) = assemble::open(cfg.clone()).map_err(storage_err)?;
        let mut server = Server::bind_with(cfg.clone(), core, log, snapshotter).await?;
        if cfg.is_distributed() {
            // Where ZooKeeper keeps them, so an operator's tooling finds them.
            let last = server.core.tree().last_processed_zxid;
            let epochs = crate::storage::epoch::EpochFiles::open(&cfg.data_dir, last)
                .map_err(storage_err)?;
            server.epochs = Box::new(epochs);
        }
        Ok(server)
    }

    /// Binds the client port with the txn log kept in memory (tests; nothing survives).
    pub async fn bind_in_memory(cfg: Config) -> Result<Server, ServerError> {
        Server::bind_with_log(cfg, Box::new(MemLog::default())).await
    }

    /// Binds the client port over an empty tree and the given txn log, without snapshots
    /// (tests: a log whose sync blocks or fails shows what waits for durability).
    pub async fn bind_with_log(cfg: Config, log: Box<dyn TxnLog>) -> Result<Server, ServerError> {
        let cfg = Arc::new(cfg);
        let tree = crate::tree::DataTree::new(cfg.extended_types_enabled);
        let core = Core::with_state(
            cfg.clone(),
            tree,
            std::iter::empty(),
            clock::Now::at_start(),
        );
        Server::bind_with(cfg, core, log, None).await
    }

    async fn bind_with(
        cfg: Arc<Config>,
        core: Core,
        log: Box<dyn TxnLog>,
        snapshotter: Option<Box<dyn Snapshotter>>,
    ) -> Result<Server, ServerError> {
        let addr = format!("{}:{}", cfg.client_port_address, cfg.client_port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let tls = cfg.tls.as_ref().map(tls::ServerTls::build).transpose()?;
        let secure = match cfg.tls.as_ref().filter(|t| t.secure_client_port != 0) {
            Some(t) => {
                let addr = format!("{}:{}", t.secure_client_port_address, t.secure_client_port);
                let l = TcpListener::bind(&addr)
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?;
                Some(l)
            }
            None => None,
        };
        Ok(Server {
            listener,
            secure,
            tls,
            cfg,
            core,
            log,
            snapshotter,
            epochs: Box::new(crate::storage::epoch::MemEpochs::default()),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends, or until the txn log fails: then every connection
    /// is closed without the replies that were waiting for the log, the client port is
    /// released, and the failure is returned.
    pub async fn run(self) -> Result<(), ServerError> {
        let cfg = self.cfg;
        let (core_tx, core_rx) = mpsc::channel(CORE_QUEUE);
        let core = if cfg.is_distributed() {
            let log = crate::peer::log::SharedLog::new(self.log);
            let peer = crate::peer::Peer::new(
                cfg.clone(),
                self.core,
                core_rx,
                log,
                self.epochs,
                self.snapshotter,
            )
            .map_err(ServerError::Log)?;
            tokio::spawn(peer.run())
        } else {
            let writer = assemble::spawn_writer(self.log);
            tokio::spawn(core_loop(self.core, core_rx, writer, self.snapshotter))
        };
        admin::start(cfg.clone(), core_tx.clone()).await;
        metrics::start(cfg.clone(), core_tx.clone()).await;
        let accepting = Accepting::default();
        // The plaintext port takes TLS too with client.portUnification=true.
        let plain_kind = match (
            &self.tls,
            cfg.tls.as_ref().is_some_and(|t| t.port_unification),
        ) {
            (Some(t), true) => Kind::Unified(t.clone()),
            _ => Kind::Plain,
        };
        let secure_port = self.secure.zip(self.tls.clone());
        let (secure_cfg, secure_tx, shared) = (cfg.clone(), core_tx.clone(), &accepting);
        let secure = async move {
            match secure_port {
                Some((l, t)) => {
                    accept_loop(l, Kind::Secure(t), secure_cfg, secure_tx, shared).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = core => r?,
            () = accept_loop(self.listener, plain_kind, cfg.clone(), core_tx.clone(), &accepting) => Ok(()),
            () = secure => Ok(()),
        }
    }
}

/// What a listener's connections speak.
enum Kind {
    /// The plaintext protocol.
    Plain,
    /// TLS only (`secureClientPort`).
    Secure(Arc<tls::ServerTls>),
    /// Either, told apart by the first byte (`client.portUnification`).
    Unified(Arc<tls::ServerTls>),
}

/// What the listeners share: the connection count and ids. Connections per IP are counted
/// per listener, as ZooKeeper's plaintext and secure factories each keep their own map
/// (`maxClientCnxns` applies to each port).
#[derive(Default)]
struct Accepting {
    total: Arc<std::sync::atomic::AtomicUsize>,
    next_conn: std::sync::atomic::AtomicU64,
}

/// Accepts client connections for as long as the server runs.
async fn accept_loop(
    listener: TcpListener,
    kind: Kind,
    cfg: Arc<Config>,
    core_tx: mpsc::Sender<CoreMsg>,
    accepting: &Accepting,
) {
    tracing::info!(
        "serving {} clients on {}",
        match kind {
            Kind::Plain => "plaintext",
            Kind::Secure(_) => "TLS",
            Kind::Unified(_) => "TLS and plaintext",
        },
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ip = addr.ip();
        {
            let mut m = per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(ip).or_default();
            let max = cfg.max_client_cnxns;
            let total = accepting.total.load(std::sync::atomic::Ordering::Relaxed);
            if (max > 0 && *n >= max) || total >= MAX_CONNECTIONS {
                tracing::warn!("Too many connections from {ip} - max is {max}");
                if *n == 0 {
                    m.remove(&ip);
                }
                drop(stream);
                continue;
            }
            *n += 1;
            accepting
                .total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // Ids start at 1 and are shared by the listeners: the core keys connections by them.
        let conn = accepting
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let (core_tx, cfg, per_ip) = (core_tx.clone(), cfg.clone(), per_ip.clone());
        let total = accepting.total.clone();
        let kind = match &kind {
            Kind::Plain => Kind::Plain,
            Kind::Secure(t) => Kind::Secure(t.clone()),
            Kind::Unified(t) => Kind::Unified(t.clone()),
        };
        tokio::spawn(async move {
            match kind {
                Kind::Plain => conn::serve(stream, conn, addr, core_tx, cfg).await,
                Kind::Secure(t) => {
                    tls::accept::serve_secure(t, stream, conn, addr, core_tx, cfg).await
                }
                Kind::Unified(t) => {
                    tls::accept::serve_unified(t, stream, conn, addr, core_tx, cfg).await
                }
            }
            total.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let mut m = per_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = m.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        });
    }
}

/// Returns freed memory to the OS when a runtime thread goes idle, at most once a second
/// per thread; meant for the runtime's `on_thread_park`.
/// - A request's buffers are allocated on one thread and freed on another (reader task,
///   core, writer task), and mimalloc gives such memory back only when the allocating
///   thread looks at its heap again.
/// - RocksDB allocates with glibc's malloc, whose arenas keep what its flushes and
///   compactions free.
///
/// After a burst of writes into a million znodes, the two held 20 MB of the RSS.
pub fn release_freed_memory_when_idle() {
    thread_local! {
        static LAST: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }
    let now = std::time::Instant::now();
    let due = LAST.with(|l| {
        let due = l
            .get()
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if due {
            l.set(Some(now));
        }
        due
    });
    if !due {
        return;
    }
    // SAFETY: mi_collect takes no pointers; it walks the calling thread's heap and the
    // shared arenas under mimalloc's own synchronisation.
    unsafe { libmimalloc_sys::mi_collect(false) };
    // glibc's trim walks every arena under its locks, which RocksDB's threads then wait
    // for: once every ten seconds for the whole process.
    static LAST_TRIM_S: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_TRIM_S.load(std::sync::atomic::Ordering::Relaxed);
    if now_s >= last + 10
        && LAST_TRIM_S
            .compare_exchange(
                last,
                now_s,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            )
            .is_ok()
    {
        // SAFETY: takes no pointers; glibc trims its own arenas under their locks.
        unsafe { libc::malloc_trim(0) };
    }
}

/// What woke the standalone core's driver.
enum Wake {
    Clients(usize),
    Log(Option<Ack>),
    Expiry,
    Reap,
    Walk,
}

/// The standalone server's driver: the core's inputs come from connections, the writer's
/// acks and timers; each turn is stamped with the time, and its output goes to the
/// connections' outlets.
async fn core_loop(
    mut core: Core,
    mut rx: mpsc::Receiver<CoreMsg>,
    mut writer: LogWriter,
    mut snapshotter: Option<Box<dyn Snapshotter>>,
) -> Result<(), ServerError> {
    // Expiry is checked often so sessions end close to their tick boundary.
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let reap_ms = core.cfg.container_check_interval_ms.max(10);
    let mut reap = tokio::time::interval(Duration::from_millis(reap_ms));
    // A busy turn must not be followed by a burst of ticks that were missed.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch = Vec::with_capacity(512);
    let mut outlets = outlets::Outlets::default();
    let clock = clock::Clock::start();
    loop {
        let walk_at = snapshotter
            .as_ref()
            .and_then(|s| s.next_walk())
            .map(tokio::time::Instant::from_std);
        // Biased, so a turn's choice depends only on what is ready: durability first (it
        // releases replies), then the timers, then the clients.
        let wake = tokio::select! {
            biased;
            ack = writer.acks.recv() => Wake::Log(ack),
            _ = tick.tick() => Wake::Expiry,
            _ = reap.tick() => Wake::Reap,
            n = rx.recv_many(&mut batch, 512) => Wake::Clients(n),
            // Nothing else to do: go on walking the snapshot under way.
            _ = tokio::time::sleep_until(walk_at.unwrap_or_else(tokio::time::Instant::now)), if walk_at.is_some() => Wake::Walk,
        };
        core.set_now(clock.now());
        match wake {
            Wake::Clients(0) => break,
            Wake::Clients(_) => {
                for m in batch.drain(..) {
                    core.handle(outlets.admit(m));
                }
            }
            Wake::Log(Some(Ack::Durable(zxid))) => core.durable(zxid),
            // Returning drops the core with its proposals and what waits behind them: the
            // connections close without a reply that was not made durable.
            Wake::Log(Some(Ack::Failed(e))) => return Err(ServerError::Log(e)),
            Wake::Log(None) => {
                return Err(ServerError::Log(StorageError::Io(
                    "the txn log writer stopped".into(),
                )))
            }
            Wake::Expiry => core.tick(),
            Wake::Reap => core.reap_containers(),
            Wake::Walk => {}
        }
        // Entries the writer's full queue did not take yet go ahead of this turn's; after
        // an ack, with no new entries, they go by themselves.
        if !writer.submit(core.take_log()) {
            // The writer stopped after a failure, which its next ack reports; without
            // one it stopped for no reason it gave.
            return match writer.acks.recv().await {
                Some(Ack::Failed(e)) => Err(ServerError::Log(e)),
                _ => Err(ServerError::Log(StorageError::Io(
                    "the txn log writer stopped".into(),
                ))),
            };
        }
        // What is in the outbox now is committed or answered from the committed tree.
        core.set_now(clock.now());
        outlets.finish_turn(&mut core);
        if let Some(s) = snapshotter.as_mut() {
            if core.snapshot_due() {
                s.start(&core);
            }
            // The tree holds only durable txns.
            let durable_zxid = core.tree().last_processed_zxid;
            s.step(&core, durable_zxid);
        }
    }
    Ok(())
}
