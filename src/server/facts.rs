//! Facts about the running server for the four-letter words, the AdminServer and the
//! metrics: what the core knows, copied out in one message so the core stays single-threaded.
//! Also the per-request bookkeeping behind ZooKeeper's latency and per-connection stats.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::proto::op;
use crate::server::core::Core;
use crate::tree::ZxidDigest;
use crate::watch::ConnId;

/// What an operations message asks the core for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsCmd {
    /// Counts and per-connection stats.
    Facts,
    /// Counts, plus watches, sessions and ephemerals (dump, wchc, wchp and friends).
    Detailed,
    /// `srst`: reset the server's latency and packet counts, then report.
    ResetServer,
    /// `crst`: reset every connection's stats, then report.
    ResetConns,
    /// Counts, plus the tree's digest log (`hash`).
    Digests,
    /// `observer_connection_stat_reset`: a leader zeroes its observers' link counters
    /// (Leader.resetObserverConnectionStats), then report.
    ResetObservers,
}

/// min/max/sum/count of latencies in ms, as ZooKeeper's ServerStats and ServerCnxn keep them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Smallest sample (0 when there is none).
    pub min: u64,
    /// Largest sample.
    pub max: u64,
    /// Sum of samples.
    pub sum: u64,
    /// Number of samples.
    pub count: u64,
}

impl Latency {
    /// Adds a sample.
    pub fn add(&mut self, ms: u64) {
        self.min = if self.count == 0 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        self.sum += ms;
        self.count += 1;
    }

    /// The average as ZooKeeper reports it (4 decimals).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        (self.sum as f64 / self.count as f64 * 10_000.0).round() / 10_000.0
    }
}

/// Per-connection stats (`cons`, the `connections` admin command).
#[derive(Debug, Clone)]
pub struct ConnStats {
    /// Wall-clock ms of the handshake.
    pub established_ms: i64,
    /// Negotiated session timeout, ms.
    pub timeout_ms: i32,
    /// ZooKeeper's short name of the last operation ("NA" before any).
    pub last_op: &'static str,
    /// xid of the last request (-1 before any).
    pub last_cxid: i64,
    /// Last zxid answered (-1 before any).
    pub last_zxid: i64,
    /// Wall-clock ms of the last response.
    pub last_response_ms: i64,
    /// Latency of the last request, ms.
    pub last_latency: u64,
    /// All latencies since the last reset.
    pub latency: Latency,
}

impl ConnStats {
    /// Stats of a connection that just completed its handshake.
    pub fn new(timeout_ms: i32, now_wall_ms: i64) -> ConnStats {
        ConnStats {
            established_ms: now_wall_ms,
            timeout_ms,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency: 0,
            latency: Latency::default(),
        }
    }

    fn reset(&mut self) {
        *self = ConnStats {
            established_ms: self.established_ms,
            timeout_ms: self.timeout_ms,
            ..ConnStats::new(self.timeout_ms, self.established_ms)
        };
    }
}

/// A request on its way through the core, until its reply is released.
#[derive(Debug)]
pub struct RequestMark {
    /// When the request reached the core (the turn's monotonic µs).
    at_us: u64,
    conn: ConnId,
    xid: i32,
    op: i32,
}

/// Sizes of the responses sent: last, min, max (-1 before any), as ZooKeeper's BufferStats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSizes {
    /// The last one.
    pub last: i64,
    /// The smallest.
    pub min: i64,
    /// The largest.
    pub max: i64,
}

impl Default for ResponseSizes {
    fn default() -> ResponseSizes {
        ResponseSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

/// The core's operations bookkeeping.
#[derive(Debug, Default)]
pub struct OpsState {
    pub(crate) marks: Vec<RequestMark>,
    /// Marks whose replies may go out: everything before them was released.
    pub(crate) released_marks: Vec<RequestMark>,
    /// Server-wide request latency since the last `srst`.
    pub latency: Latency,
    /// Response sizes since the last `srst`.
    pub responses: ResponseSizes,
    /// Txns from a leader whose digest the tree did not match after applying them
    /// (ServerMetrics DIGEST_MISMATCHES_COUNT).
    pub digest_mismatches: u64,
}

impl OpsState {
    /// Notes the size of a response sent.
    pub fn response_size(&mut self, len: usize) {
        let n = len as i64;
        let r = &mut self.responses;
        r.last = n;
        r.min = if r.min < 0 { n } else { r.min.min(n) };
        r.max = r.max.max(n);
    }
}

/// One client connection as reported.
#[derive(Debug, Clone)]
pub struct ConnFact {
    /// The client's address.
    pub addr: SocketAddr,
    /// The session (0 before the handshake finished).
    pub session_id: i64,
    /// Requests received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// The rest of its stats.
    pub stats: ConnStats,
}

/// What a quorum peer reports of its role (QuorumZooKeeperServer, LeaderZooKeeperServer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumFacts {
    /// QuorumPeer.getQuorumSize: the voting members.
    pub quorum_size: usize,
    /// QuorumPeer.getDetailedPeerState: `leading - broadcast`, `following - synchronization`...
    pub peer_state: String,
    /// The elected leader's sid.
    pub leader: Option<u64>,
    /// How long the last election took, ms (ServerMetrics election_time).
    pub election_time_ms: Option<u64>,
    /// Leader only.
    pub leading: Option<LeadingFacts>,
}

/// What a leader reports (LeaderZooKeeperServer's gauges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadingFacts {
    /// Learners connected (any phase).
    pub learners: usize,
    /// Synced participants.
    pub synced_followers: usize,
    /// Synced participants outside the voting view.
    pub synced_non_voting_followers: usize,
    /// Synced observers.
    pub synced_observers: usize,
    /// Forwarded syncs waiting for a commit.
    pub pending_syncs: usize,
    /// ms since the epoch was established.
    pub uptime_ms: u64,
    /// Proposal sizes in bytes: last, min, max (BufferStats; -1 before the first).
    pub proposal_sizes: (i64, i64, i64),
    /// The sids of the learners connected (their LearnerHandlers' keys), ascending.
    pub learner_sids: Vec<u64>,
    /// The synced observers' links (Leader.getObservingLearnersInfo), by sid.
    pub observers: Vec<LearnerLinkFacts>,
}

/// One learner link (LearnerHandler.getLearnerHandlerInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnerLinkFacts {
    /// As Java's `Socket.getRemoteSocketAddress().toString()`: `/127.0.0.1:4242`.
    pub remote_socket_address: String,
    /// The learner's sid.
    pub sid: u64,
    /// When the link was accepted, wall-clock ms since 1970 (a Java Date in JSON).
    pub established_ms: i64,
    /// Packets waiting in the link's queue.
    pub queued_packets: usize,
    /// Java's running size of the queue (see `peer::learner_stats`).
    pub queued_packets_size: i64,
    /// Packets read after the handshake.
    pub packets_received: u64,
    /// Packets queued for the learner.
    pub packets_sent: u64,
    /// REQUESTs read.
    pub requests: u64,
    /// The zxid of the last packet sent with one above 0, -1 if none.
    pub last_zxid: i64,
}

/// Everything the operations interfaces report.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `standalone`, `leader`, `follower` or `observer` (ServerStats.getServerState);
    /// empty while the server does not serve (electing, syncing).
    pub server_state: &'static str,
    /// Last processed zxid.
    pub zxid: i64,
    /// Node count as ZooKeeper reports it (the root counts twice).
    pub node_count: usize,
    /// Watches in both tables.
    pub watch_count: usize,
    /// Ephemeral nodes.
    pub ephemerals_count: usize,
    /// Sum of path and data lengths.
    pub approximate_data_size: u64,
    /// Live sessions.
    pub sessions: usize,
    /// Requests received since the last `srst`.
    pub packets_received: u64,
    /// Packets sent since the last `srst`.
    pub packets_sent: u64,
    /// Server latency since the last `srst`.
    pub latency: Latency,
    /// ms since the core started.
    pub uptime_ms: u64,
    /// Response sizes since the last `srst`.
    pub responses: ResponseSizes,
    /// The connections with a session.
    pub conns: Vec<ConnFact>,
    /// Data watches: session id -> paths (Detailed only).
    pub watches_by_session: BTreeMap<i64, Vec<String>>,
    /// Data watches: path -> session ids (Detailed only).
    pub watches_by_path: BTreeMap<String, Vec<i64>>,
    /// Data watch summary: (connections, paths, watches).
    pub watch_summary: (usize, usize, usize),
    /// Sessions by wall-clock expiry time, ms (Detailed only).
    pub session_expiry: BTreeMap<i64, Vec<i64>>,
    /// Ephemeral paths by session (Detailed only).
    pub ephemerals: BTreeMap<i64, Vec<String>>,
    /// The digest log, oldest first (Digests only).
    pub digests: Vec<ZxidDigest>,
    /// The quorum peer's role facts (`None` standalone).
    pub quorum: Option<QuorumFacts>,
    /// The configuration the server runs with now: a reconfig changes its membership.
    pub config: Option<std::sync::Arc<crate::config::Config>>,
    /// Digest mismatches seen applying a leader's txns.
    pub digest_mismatches: u64,
}

/// ZooKeeper's short operation names (FinalRequestProcessor's `lastOp`).
pub fn op_name(opcode: i32) -> &'static str {
    match opcode {
        op::PING => "PING",
        op::CREATE_SESSION => "SESS",
        op::CLOSE_SESSION => "CLOS",
        op::MULTI => "MULT",
        op::MULTI_READ => "MLTR",
        op::CREATE | op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => "CREA",
        op::DELETE | op::DELETE_CONTAINER => "DELE",
        op::SET_DATA => "SETD",
        op::RECONFIG => "RECO",
        op::SET_ACL => "SETA",
        op::SYNC => "SYNC",
        op::CHECK => "CHEC",
        op::EXISTS => "EXIS",
        op::GET_DATA => "GETD",
        op::SET_WATCHES | op::SET_WATCHES2 => "SETW",
        op::GET_ACL => "GACL",
        op::GET_CHILDREN | op::GET_CHILDREN2 => "GETC",
        op::GET_ALL_CHILDREN_NUMBER => "GETACN",
        op::CHECK_WATCHES => "CHKW",
        op::REMOVE_WATCHES => "REMW",
        op::GET_EPHEMERALS => "GETE",
        op::ADD_WATCH => "ADDW",
        op::WHO_AM_I => "HOMI",
        op::AUTH => "AUTH",
        op::SASL => "SASL",
        _ => "UNKN",
    }
}

impl Core {
    /// Notes a request as it reaches the core.
    pub(crate) fn mark_request(&mut self, conn: ConnId, xid: i32, op: i32) {
        self.ops.marks.push(RequestMark {
            at_us: self.now.mono_us,
            conn,
            xid,
            op,
        });
    }

    /// The requests whose replies were released since the last call; complete them once
    /// the output is delivered.
    pub fn take_marks(&mut self) -> Vec<RequestMark> {
        self.hold_marks();
        std::mem::take(&mut self.ops.released_marks)
    }

    /// Records latency and per-connection stats of requests whose replies were released.
    pub fn complete(&mut self, marks: Vec<RequestMark>) {
        if marks.is_empty() {
            return;
        }
        let zxid = self.tree.last_processed_zxid;
        let now = self.now.wall_ms;
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for m in marks {
            let ms = self.now.mono_us.saturating_sub(m.at_us) / 1000;
            self.ops.latency.add(ms);
            if crate::proto::is_write_op(m.op) || m.op == op::CLOSE_SESSION {
                writes.push(ms);
            } else {
                reads.push(ms);
            }
            if let Some(c) = self.conns.get_mut(&m.conn) {
                let s = &mut c.stats;
                s.last_op = op_name(m.op);
                s.last_cxid = i64::from(m.xid);
                s.last_zxid = zxid;
                s.last_response_ms = now;
                s.last_latency = ms;
                s.latency.add(ms);
            }
        }
        crate::server::metrics::requests_done(&reads, &writes);
    }

    /// Answers an operations message.
    pub(crate) fn ops(&mut self, cmd: OpsCmd) -> Facts {
        match cmd {
            OpsCmd::ResetServer => {
                self.packets_received = 0;
                self.packets_sent = 0;
                self.ops.latency = Latency::default();
                self.ops.responses = ResponseSizes::default();
            }
            OpsCmd::ResetConns => {
                for c in self.conns.values_mut() {
                    c.received = 0;
                    c.sent = 0;
                    c.stats.reset();
                }
            }
            OpsCmd::ResetObservers => self.reset_observer_stats(),
            OpsCmd::Facts | OpsCmd::Detailed | OpsCmd::Digests => {}
        }
        let mut f = Facts {
            server_state: self.server_state(),
            quorum: self.quorum.clone(),
            config: Some(self.cfg.clone()),
            digest_mismatches: self.ops.digest_mismatches,
            zxid: self.tree.last_processed_zxid,
            node_count: self.tree.node_count() + 1,
            watch_count: self.watches.count(),
            ephemerals_count: self.tree.ephemeral_counts().map(|(_, n)| n).sum(),
            approximate_data_size: self.tree.approximate_data_size(),
            sessions: self.sessions.len(),
            packets_received: self.packets_received,
            packets_sent: self.packets_sent,
            latency: self.ops.latency,
            uptime_ms: self.now.mono_ms(),
            responses: self.ops.responses,
            conns: self
                .conns
                .values()
                .map(|c| ConnFact {
                    addr: c.addr,
                    session_id: c.session_id,
                    received: c.received,
                    sent: c.sent,
                    stats: c.stats.clone(),
                })
                .collect(),
            digests: if cmd == OpsCmd::Digests {
                self.tree.digest_log()
            } else {
                Vec::new()
            },
            ..Facts::default()
        };
        let table = &self.watches.data;
        let paths = table.paths();
        let mut watchers = std::collections::BTreeSet::new();
        let mut total = 0;
        for p in &paths {
            let conns = table.conns_of(p);
            total += conns.len();
            watchers.extend(conns.iter().copied());
            if cmd == OpsCmd::Detailed {
                let mut sids: Vec<i64> = conns.iter().map(|c| self.session_of(*c)).collect();
                sids.sort_unstable();
                f.watches_by_path.insert(p.clone(), sids);
            }
        }
        f.watch_summary = (watchers.len(), paths.len(), total);
        if cmd == OpsCmd::Detailed {
            for c in watchers {
                let mut ps = table.paths_of(c);
                ps.sort();
                f.watches_by_session.insert(self.session_of(c), ps);
            }
            let now_mono = self.now_ms() as i64;
            let now_wall = self.now.wall_ms;
            for s in self.sessions.all() {
                let at = now_wall + (s.expires_at_ms as i64 - now_mono);
                f.session_expiry.entry(at).or_default().push(s.id);
            }
            for (sid, _) in self.tree.ephemeral_counts() {
                f.ephemerals.insert(sid, self.tree.ephemerals_of(sid));
            }
        }
        f
    }

    fn session_of(&self, conn: ConnId) -> i64 {
        self.conns.get(&conn).map_or(0, |c| c.session_id)
    }
}
