//! The core: owns the DataTree, sessions, watches and the log, and handles every request
//! of every connection in one sequence. It owns no socket and reads no clock: its driver
//! (`core_loop` standalone, the quorum peer in an ensemble) stamps each turn with the time
//! (`set_now`), hands it [`Input`]s, and writes the [`Outbox`] it leaves to the connections'
//! outlets (`outlets.rs`). That sequence is ZooKeeper's standalone pipeline
//! (prep -> sync -> final): a write is prepped into a txn over the uncommitted state and
//! proposed to the log; it is applied, and answered, only once the log says it is durable
//! (`commit.rs`). The tree holds only durable txns, so nothing a client can see was not
//! durable, and what came after a write waits behind it, so output keeps request order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::oneshot;

use crate::config::Config;
use crate::jute::Jute;
use crate::proto::{
    ConnectRequest, ConnectResponse, Id, ReplyHeader, Request, RequestError, WatcherEvent,
};
use crate::server::clock::Now;
use crate::server::conn::Outlet;
use crate::session::{initial_session_id, SessionTracker};
use crate::storage::TxnLog;
use crate::tree::DataTree;
use crate::watch::{ConnId, Notification, WatchManager};

/// Txn entries waiting for the log: (zxid, entry bytes).
pub type LogEntries = Vec<(i64, Vec<u8>)>;
/// Output waiting for delivery: (connection, frame or close).
pub type Outbox = Vec<(ConnId, Out)>;

/// What the core sends to a connection's writer.
#[derive(Debug)]
pub enum Out {
    /// Bytes to send: a whole frame, length prefix included (or, from an outlet, the
    /// rest of one the socket took only part of).
    Frame(Bytes),
    /// Flush what was sent, then close.
    Close,
}

/// What connections and the operations interfaces send to the core's driver.
#[derive(Debug)]
pub enum CoreMsg {
    /// A ConnectRequest arrived; the driver keeps the outlet, the core gets the rest.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The request.
        req: ConnectRequest,
        /// The client address.
        addr: SocketAddr,
        /// Where the connection's output goes.
        out: Outlet,
    },
    /// Anything else, for the core as it is.
    Input(Input),
}

/// What the core takes: it owns no socket; its output comes back as an [`Outbox`].
#[derive(Debug)]
pub enum Input {
    /// A ConnectRequest arrived.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The request.
        req: ConnectRequest,
        /// The client address.
        addr: SocketAddr,
    },
    /// A request after the handshake.
    Request {
        /// The connection.
        conn: ConnId,
        /// Request xid.
        xid: i32,
        /// Opcode.
        op: i32,
        /// The decoded body.
        req: Result<Request, RequestError>,
        /// The body as received: a follower forwards it to the leader as it came.
        body: Bytes,
    },
    /// Identities a connection got outside the request stream: the `x509` (and `super`)
    /// ids of a TLS client's certificate, added after its ConnectRequest.
    AddAuthInfo {
        /// The connection.
        conn: ConnId,
        /// The identities.
        ids: Vec<Id>,
    },
    /// The connection is gone.
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// A four-letter word wants server facts.
    Stats {
        /// Where the answer goes.
        reply: oneshot::Sender<ServerStats>,
    },
    /// Four-letter words, the AdminServer and metrics want facts (or a stats reset).
    Ops {
        /// What to do and report.
        cmd: crate::server::facts::OpsCmd,
        /// Where the answer goes.
        reply: oneshot::Sender<crate::server::facts::Facts>,
    },
}

/// Facts four-letter words and metrics report.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// Last processed zxid.
    pub zxid: i64,
    /// Number of znodes.
    pub node_count: usize,
    /// Live connections.
    pub connections: usize,
    /// Requests received.
    pub packets_received: u64,
    /// Frames sent.
    pub packets_sent: u64,
    /// Watches.
    pub watch_count: usize,
    /// Ephemeral nodes.
    pub ephemerals_count: usize,
    /// Sum of path and data bytes.
    pub approximate_data_size: u64,
    /// Live sessions.
    pub sessions: usize,
    /// Request latency min/sum/count/max, ms.
    pub latency: (u64, u64, u64, u64),
    /// Per-connection summary lines (cons).
    pub conns: Vec<String>,
}

pub(crate) struct ConnState {
    pub session_id: i64,
    pub ids: Vec<Id>,
    pub addr: SocketAddr,
    pub received: u64,
    pub sent: u64,
    pub stats: crate::server::facts::ConnStats,
    /// The connection's SASL exchange, from its first sasl request.
    pub sasl: Option<crate::server::sasl::SaslExchange>,
}

/// The server state and its single-threaded request handling.
pub struct Core {
    pub(crate) cfg: Arc<Config>,
    pub(crate) tree: DataTree,
    pub(crate) watches: WatchManager,
    pub(crate) sessions: SessionTracker,
    /// A log written synchronously by `flush` (tests, fuzzing); the server instead hands
    /// `pending_log` to the group-commit writer.
    pub(crate) log: Option<Box<dyn TxnLog>>,
    pending_log: Vec<(i64, Vec<u8>)>,
    /// Changes of proposed, uncommitted txns, which prep sees.
    pub(crate) uncommitted: crate::pipeline::uncommitted::Uncommitted,
    /// Proposals waiting for the log, and what waits behind them.
    pub(crate) waiting: crate::server::commit::WaitQueue,
    /// Txns since the last snapshot, and the count that triggers the next one.
    pub(crate) txns_since_snapshot: u64,
    pub(crate) next_snapshot_at: u64,
    pub(crate) conns: HashMap<ConnId, ConnState>,
    pub(crate) session_conn: HashMap<i64, ConnId>,
    pub(crate) last_zxid: i64,
    /// The time of this turn, as the driver read it.
    pub(crate) now: Now,
    /// Snapshot jitter (seeded from the start time and myid).
    rng: crate::rng::Rng,
    outbox: Vec<(ConnId, Out)>,
    pub(crate) packets_received: u64,
    pub(crate) packets_sent: u64,
    pub(crate) ops: crate::server::facts::OpsState,
    /// Standalone, or this server's role in its ensemble.
    pub(crate) role: crate::server::role::Role,
    /// What the quorum peer reports of its role (set by the peer).
    pub(crate) quorum: Option<crate::server::facts::QuorumFacts>,
    /// On a leader: what a reconfig request is prepared against (set by the peer).
    pub(crate) reconfig: Option<crate::pipeline::reconfig::ReconfigCtx>,
}

/// Prefixes a payload with its length.
pub fn frame(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + payload.len());
    b.put_i32(payload.len() as i32);
    b.put_slice(payload);
    b.freeze()
}

impl Core {
    /// A core over an empty tree whose `flush` writes `log` synchronously, at time zero
    /// until [`Core::set_now`] says otherwise (tests, fuzzing).
    pub fn new(cfg: Arc<Config>, log: Box<dyn TxnLog>) -> Core {
        let tree = DataTree::new(cfg.extended_types_enabled);
        let mut core = Core::with_state(cfg, tree, std::iter::empty(), Now::default());
        core.log = Some(log);
        core
    }

    /// A core over a recovered tree and sessions, starting at `now`; the caller writes the
    /// log (group commit).
    pub fn with_state(
        cfg: Arc<Config>,
        tree: DataTree,
        sessions: impl IntoIterator<Item = (i64, i32)>,
        now: Now,
    ) -> Core {
        // Standalone ZooKeeper gives its session tracker server id 1; in an ensemble each
        // server's myid tops its session ids, so no two servers make the same one.
        let server_id = if cfg.servers.is_empty() {
            1
        } else {
            cfg.my_id.unwrap_or(1) as u8
        };
        let first_id = initial_session_id(now.wall_ms as u64, server_id);
        let mut tracker = SessionTracker::new(cfg.tick_time_ms, first_id);
        for (id, timeout) in sessions {
            // Restored sessions get a full timeout to reconnect, as in ZooKeeper.
            tracker.add(id, timeout, now.mono_ms());
        }
        // Servers started together must not draw the same snapshot points.
        let seed = (now.wall_ms as u64) ^ (u64::from(server_id) << 56) ^ now.mono_us;
        let last_zxid = tree.last_processed_zxid;
        if cfg.sasl_auth_provider {
            crate::pipeline::acl::register_sasl_provider();
        }
        if let Some(tls) = cfg.tls.as_ref().filter(|t| t.x509_provider) {
            crate::pipeline::acl::register_x509_provider(tls.x509_super_user.clone());
        }
        let mut core = Core {
            tree,
            watches: WatchManager::default(),
            sessions: tracker,
            log: None,
            pending_log: Vec::new(),
            uncommitted: Default::default(),
            waiting: Default::default(),
            txns_since_snapshot: 0,
            next_snapshot_at: 0,
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            last_zxid,
            now,
            rng: crate::rng::Rng::new(seed),
            outbox: Vec::new(),
            packets_received: 0,
            packets_sent: 0,
            ops: Default::default(),
            role: Default::default(),
            quorum: None,
            reconfig: None,
            cfg,
        };
        core.next_snapshot_at = core.roll_snapshot_threshold();
        core
    }

    /// ZooKeeper snapshots after snapCount/2 + a random part of snapCount/2 txns, so the
    /// servers of an ensemble do not all snapshot at once.
    fn roll_snapshot_threshold(&mut self) -> u64 {
        let half = (self.cfg.snap_count / 2).max(1);
        half + self.rng.below(half)
    }

    /// Whether enough txns went by for a snapshot; resets the count when it says yes.
    pub fn snapshot_due(&mut self) -> bool {
        if self.txns_since_snapshot < self.next_snapshot_at {
            return false;
        }
        self.txns_since_snapshot = 0;
        self.next_snapshot_at = self.roll_snapshot_threshold();
        true
    }

    /// The live sessions with their timeouts, for snapshots: the quorum's only, never a
    /// read-only mode's own, which no txn made.
    pub fn session_list(&self) -> Vec<(i64, i32)> {
        let read_only = match &self.role {
            crate::server::role::Role::ReadOnly(ro) => Some(ro),
            _ => None,
        };
        let mut v: Vec<(i64, i32)> = self
            .sessions
            .all()
            .filter(|s| !read_only.is_some_and(|ro| ro.owns(s.id)))
            .map(|s| (s.id, s.timeout_ms))
            .collect();
        v.sort_unstable();
        v
    }

    /// The tree, for snapshots.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// Monotonic ms of this turn, the session tracker's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.now.mono_ms()
    }

    /// The driver's time for what comes next (time never goes back).
    pub fn set_now(&mut self, now: Now) {
        self.now = Now {
            mono_us: now.mono_us.max(self.now.mono_us),
            wall_ms: now.wall_ms,
        };
    }

    /// The next zxid: epoch 0 in standalone, so just a counter.
    pub(crate) fn next_zxid(&mut self) -> i64 {
        self.last_zxid += 1;
        self.last_zxid
    }

    /// Logs a txn entry; replies wait for the batch's sync.
    pub(crate) fn log_txn(&mut self, zxid: i64, entry: &[u8]) {
        self.pending_log.push((zxid, entry.to_vec()));
        self.txns_since_snapshot += 1;
    }

    /// Takes the txn entries proposed since the last call, for the log.
    pub fn take_log(&mut self) -> LogEntries {
        std::mem::take(&mut self.pending_log)
    }

    /// Takes the output that may go now (none of it waits for the log any more) for the
    /// driver to deliver, counting what each connection is sent.
    pub fn take_outbox(&mut self) -> Outbox {
        let outbox = std::mem::take(&mut self.outbox);
        for (conn, out) in &outbox {
            if let (Out::Frame(f), Some(c)) = (out, self.conns.get_mut(conn)) {
                c.sent += 1;
                self.packets_sent += 1;
                self.ops.response_size(f.len().saturating_sub(4));
            }
        }
        outbox
    }

    /// Proposals and deferred entries waiting for the log.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    pub(crate) fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub(crate) fn outbox_split_off(&mut self, at: usize) -> Outbox {
        self.outbox.split_off(at)
    }

    pub(crate) fn outbox_extend(&mut self, out: Outbox) {
        self.outbox.extend(out);
    }

    /// Queues a frame for a connection.
    pub(crate) fn send(&mut self, conn: ConnId, payload: &[u8]) {
        self.outbox.push((conn, Out::Frame(frame(payload))));
    }

    /// Queues a reply: header and optional body.
    pub(crate) fn reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: i32,
        body: Option<&[u8]>,
    ) {
        let body = body.unwrap_or_default();
        // The frame is built in place, length first: one allocation and one copy of the
        // body per reply.
        let mut b = BytesMut::with_capacity(4 + 16 + body.len());
        b.put_i32((16 + body.len()) as i32);
        ReplyHeader { xid, zxid, err }.write(&mut b);
        b.put_slice(body);
        self.outbox.push((conn, Out::Frame(b.freeze())));
    }

    /// Queues a close after what is queued for the connection.
    pub(crate) fn close(&mut self, conn: ConnId) {
        self.outbox.push((conn, Out::Close));
    }

    /// Queues watch notifications (xid -1, zxid -1 as ZooKeeper 3.8 sends them).
    pub(crate) fn notify(&mut self, list: Vec<Notification>) {
        for n in list {
            if !self.may_read(&n) {
                // CVE-2024-23944: an event must not tell a connection about a node it may not
                // read; ZooKeeper drops it silently (ZOOKEEPER-4799 logs it at trace).
                tracing::trace!(
                    "not delivering event {} {} to connection {} (filtered by ACL)",
                    n.event_type,
                    n.path,
                    n.conn
                );
                continue;
            }
            let mut b = BytesMut::with_capacity(4 + 16 + 12 + n.path.len());
            b.put_i32(0);
            ReplyHeader {
                xid: crate::proto::xid::NOTIFICATION,
                zxid: -1,
                err: 0,
            }
            .write(&mut b);
            WatcherEvent {
                r#type: n.event_type,
                state: crate::proto::event::STATE_SYNC_CONNECTED,
                path: n.path,
            }
            .write(&mut b);
            // Built in place like a reply; the length goes in once the event is written.
            let len = (b.len() - 4) as i32;
            b[..4].copy_from_slice(&len.to_be_bytes());
            self.outbox.push((n.conn, Out::Frame(b.freeze())));
        }
    }

    /// Whether a notification's connection holds READ on the ACL the event is filtered by.
    fn may_read(&self, n: &Notification) -> bool {
        let Some(acl) = n.acl.as_deref() else {
            return true;
        };
        let ids = self
            .conns
            .get(&n.conn)
            .map_or(&[][..], |c| c.ids.as_slice());
        crate::pipeline::acl::check(acl, crate::proto::perms::READ, ids).is_ok()
    }

    /// Ends a batch with the synchronous log (tests, fuzzing): writes and syncs it, then
    /// commits what it made durable through the same `durable` as the group-commit
    /// writer's acknowledgements; the output is then the driver's to deliver.
    pub fn flush(&mut self) -> Result<(), crate::storage::StorageError> {
        let entries = self.take_log();
        if let (Some(log), Some(&(upto, _))) = (self.log.as_mut(), entries.last()) {
            entries
                .iter()
                .try_for_each(|(z, e)| log.append(*z, e))
                .and_then(|()| log.sync())?;
            self.durable(upto);
        } else if let Some(&(upto, _)) = entries.last() {
            self.durable(upto);
        }
        self.hold_marks();
        Ok(())
    }

    /// Forgets a connection: its watches go, its session lives on until it expires.
    pub(crate) fn drop_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.watches.remove_conn(conn);
            if self.session_conn.get(&c.session_id) == Some(&conn) {
                self.session_conn.remove(&c.session_id);
            }
        }
    }

    /// Answers a ConnectRequest (new session, or a reconnect with id and password).
    pub(crate) fn connect(&mut self, conn: ConnId, req: ConnectRequest, addr: SocketAddr) {
        if !self.serving() {
            tracing::info!("closing the connection from {addr}: the server is not running");
            self.close(conn);
            return;
        }
        if req.last_zxid_seen > self.tree.last_processed_zxid {
            tracing::info!(
                "refusing session request from {addr}: it has seen zxid 0x{:x}, our last zxid is 0x{:x}",
                req.last_zxid_seen,
                self.tree.last_processed_zxid
            );
            self.close(conn);
            return;
        }
        if !self.read_only_admits(&req, addr) {
            self.close(conn);
            return;
        }
        let timeout = req.time_out.clamp(
            self.cfg.min_session_timeout_ms,
            self.cfg
                .max_session_timeout_ms
                .max(self.cfg.min_session_timeout_ms),
        );
        let ids = vec![Id {
            scheme: "ip".into(),
            id: addr.ip().to_string(),
        }];
        self.conns.insert(
            conn,
            ConnState {
                session_id: 0,
                ids,
                addr,
                received: 1,
                sent: 0,
                stats: crate::server::facts::ConnStats::new(timeout, self.now.wall_ms),
                sasl: None,
            },
        );
        if self.is_read_only() {
            self.read_only_session(conn, req, addr, timeout);
            return;
        }
        if req.session_id == 0 {
            // The ConnectResponse goes out when the createSession txn is committed; the
            // connection may send requests before that, which wait behind the txn.
            let id = self.sessions.next_session_id();
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session_id = id;
            }
            self.session_conn.insert(id, conn);
            let read_only = req.read_only.map(|_| false);
            let origin = crate::server::commit::Origin::Connect {
                conn,
                timeout,
                read_only,
            };
            if matches!(self.role, crate::server::role::Role::Following(_)) {
                let now = self.now_ms();
                self.sessions.add(id, timeout, now);
                self.note_touch(id);
                self.forward_create_session(id, timeout, origin);
            } else {
                self.set_owner(id, crate::server::role::Owner::Conn(conn));
                self.create_session(id, timeout, origin);
            }
            return;
        }
        self.reconnect(conn, req, addr, timeout);
    }

    /// A reconnect with a session id and password: checked here, or on a follower by the
    /// leader (REVALIDATE), then answered in order.
    fn reconnect(&mut self, conn: ConnId, req: ConnectRequest, addr: SocketAddr, timeout: i32) {
        let id = req.session_id;
        let pw_ok = req.passwd == crate::session::session_password(id);
        if pw_ok && matches!(self.role, crate::server::role::Role::Following(_)) {
            self.revalidate_at_leader(conn, req, addr, timeout);
            return;
        }
        let now = self.now_ms();
        let valid = pw_ok && self.sessions.is_valid(id) && {
            self.sessions.set_timeout(id, timeout);
            self.sessions.touch(id, now)
        };
        if valid {
            self.set_owner(id, crate::server::role::Owner::Conn(conn));
        }
        self.in_order(|core| core.answer_reconnect(conn, &req, addr, timeout, valid));
    }

    /// The ConnectResponse to a reconnect: the session, or an invalid answer and a close.
    pub(crate) fn answer_reconnect(
        &mut self,
        conn: ConnId,
        req: &ConnectRequest,
        addr: SocketAddr,
        timeout: i32,
        valid: bool,
    ) {
        let session_id = req.session_id;
        // A reconnect takes the session from any other connection holding it.
        if let Some(old) = self.session_conn.get(&session_id).copied() {
            if old != conn {
                tracing::info!("closing stale connection of session 0x{session_id:x}");
                self.close(old);
            }
        }
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: if valid { timeout } else { 0 },
            session_id: if valid { session_id } else { 0 },
            passwd: if valid {
                crate::session::session_password(session_id).to_vec()
            } else {
                vec![0; 16]
            },
            // Present only when the client sent the flag; true only from a read-only
            // server, whatever the client asked.
            read_only: req.read_only.map(|_| self.is_read_only()),
        };
        self.send(conn, &resp.to_bytes());
        if valid {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session_id = session_id;
            }
            self.session_conn.insert(session_id, conn);
            self.note_touch(session_id);
        } else {
            tracing::info!("invalid session 0x{session_id:x} for client {addr}, probably expired");
            self.close(conn);
        }
    }

    /// Counts a request from a connection and keeps its session alive.
    pub(crate) fn touch(&mut self, conn: ConnId) -> Option<i64> {
        let now = self.now_ms();
        let c = self.conns.get_mut(&conn)?;
        c.received += 1;
        self.packets_received += 1;
        let sid = c.session_id;
        self.sessions.touch(sid, now);
        self.note_touch(sid);
        Some(sid)
    }

    /// The facts four-letter words report.
    pub(crate) fn stats(&self) -> ServerStats {
        ServerStats {
            zxid: self.tree.last_processed_zxid,
            node_count: self.tree.node_count(),
            connections: self.conns.len(),
            packets_received: self.packets_received,
            packets_sent: self.packets_sent,
            watch_count: self.watches.count(),
            ephemerals_count: self.tree.ephemeral_counts().map(|(_, n)| n).sum(),
            approximate_data_size: self.tree.approximate_data_size(),
            sessions: self.sessions.len(),
            latency: (0, 0, 0, 0),
            conns: self
                .conns
                .values()
                .map(|c| {
                    format!(
                        " /{}[1](queued=0,recved={},sent={},sid=0x{:x})",
                        c.addr, c.received, c.sent, c.session_id
                    )
                })
                .collect(),
        }
    }

    /// Handles one input.
    pub fn handle(&mut self, msg: Input) {
        match msg {
            Input::Connect { conn, req, addr } => self.connect(conn, req, addr),
            Input::Request {
                conn,
                xid,
                op,
                req,
                body,
            } => {
                self.mark_request(conn, xid, op);
                self.request(conn, xid, op, req, body);
            }
            Input::AddAuthInfo { conn, ids } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        if !c.ids.contains(&id) {
                            c.ids.push(id);
                        }
                    }
                }
            }
            Input::Closed { conn } => self.drop_conn(conn),
            Input::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            Input::Ops { cmd, reply } => {
                let _ = reply.send(self.ops(cmd));
            }
        }
    }

    /// One tick: proposes the close of sessions whose time has come (their connections
    /// close when the close is committed).
    pub fn tick(&mut self) {
        if !self.expires_sessions() {
            return;
        }
        let now = self.now_ms();
        for id in self.sessions.expired(now) {
            tracing::info!("expiring session 0x{id:x}");
            self.close_session(id, crate::server::commit::Origin::Internal);
        }
    }
}
