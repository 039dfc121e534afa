//! The core's role in an ensemble, and the request paths that differ by role, as
//! ZooKeeper wires its pipeline per server class:
//! - standalone and leader (ZooKeeperServer, LeaderZooKeeperServer): prep, propose, commit;
//!   the leader's driver commits on a quorum of ACKs instead of on its own log, and also
//!   preps the requests learners forward (no reply here: the learner answers its client);
//! - follower (FollowerZooKeeperServer): writes, syncs and createSession go to the leader
//!   as REQUEST packets and wait, in order, until their txn comes back committed; reads
//!   are answered from the local tree once every write before them is committed;
//! - not serving (electing, or syncing with a leader): new connections are closed, as
//!   ZooKeeper closes them while its ZooKeeperServer is not running;
//! - read-only (electing for a while with `readonlymode.enabled`): reads for clients that
//!   asked `canBeReadOnly`, NOTREADONLY for the rest (`read_only.rs`).

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};

use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::{op, CreateResponse, Id, Request, TxnEntry};
use crate::quorum::Sid;
use crate::server::commit::{Origin, Waiting};
use crate::server::core::Core;
use crate::watch::ConnId;

/// What this server is in its ensemble (or that it has none).
#[derive(Debug, Default)]
pub(crate) enum Role {
    /// No ensemble: commit on the local log.
    #[default]
    Standalone,
    /// Electing, or syncing with a leader: clients are refused.
    NotServing,
    /// Leading: commits come from the quorum.
    Leading(Leading),
    /// Following (or observing): writes go to the leader.
    Following(Following),
    /// Electing with `readonlymode.enabled`, past the grace period: reads only.
    ReadOnly(crate::server::read_only::ReadOnly),
}

/// Who holds a session (SessionImpl.owner): a connection of the leader's, or a learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Conn(ConnId),
    Learner(u64),
}

/// The leader's state in the core.
#[derive(Debug, Default)]
pub(crate) struct Leading {
    /// Learners whose forwarded sync reached the pipeline, in order (Leader.processSync
    /// is called for each once the proposals before it are handed to the quorum).
    pub(crate) syncs: Vec<Sid>,
    /// The AdminServer asked to zero the observers' link counters; the role loop, which
    /// keeps them, takes the request.
    pub(crate) reset_observer_stats: bool,
    /// Session owners: a write from anyone else is SESSIONMOVED. A session without one
    /// (loaded, or created before this leadership) is claimed by its first request.
    pub(crate) owners: HashMap<i64, Owner>,
    /// Own clients' syncs waiting for a leadership round (linearizableSync).
    pub(crate) confirming: crate::server::confirm::Confirming,
}

/// The follower's state in the core.
#[derive(Debug, Default)]
pub(crate) struct Following {
    /// REQUEST packets for the leader, in order.
    pub(crate) to_leader: Vec<QuorumPacket>,
    /// LearnerSessionTracker.touchTable: the sessions touched since the last PING, with
    /// their timeouts.
    pub(crate) touched: HashMap<i64, i32>,
}

/// A REQUEST packet: what Learner.request writes (session, cxid, type, the request as the
/// client sent it) with the connection's auth ids (its ip id included).
pub(crate) fn request_packet(
    session_id: i64,
    cxid: i32,
    opcode: i32,
    body: &[u8],
    authinfo: &[Id],
) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(16 + body.len());
    b.put_i64(session_id);
    b.put_i32(cxid);
    b.put_i32(opcode);
    b.put_slice(body);
    QuorumPacket {
        r#type: pt::REQUEST,
        zxid: -1,
        data: Some(b.to_vec()),
        authinfo: Some(authinfo.to_vec()),
    }
}

impl Core {
    /// Whether clients are served now (read-only counts).
    pub(crate) fn serving(&self) -> bool {
        !matches!(self.role, Role::NotServing)
    }

    /// ServerStats.getServerState's word for this role; empty while not serving.
    pub(crate) fn server_state(&self) -> &'static str {
        match &self.role {
            Role::Standalone => "standalone",
            Role::NotServing => "",
            Role::ReadOnly(_) => "read-only",
            Role::Leading(_) => "leader",
            Role::Following(_) => {
                let me = self.cfg.my_id.and_then(|id| self.cfg.servers.get(&id));
                if me.is_some_and(|s| s.observer) {
                    "observer"
                } else {
                    "follower"
                }
            }
        }
    }

    pub(crate) fn following(&mut self) -> Option<&mut Following> {
        match &mut self.role {
            Role::Following(f) => Some(f),
            _ => None,
        }
    }

    /// Stops serving (the role ended, or an election begins): every client connection is
    /// closed, and what waited for the old role's commits is dropped with it, as ZooKeeper
    /// drops its request processors. The tree keeps every committed txn.
    pub(crate) fn stop_serving(&mut self) {
        self.forget_read_only_sessions();
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            // The close goes out with the turn's output; the core forgets the connection
            // now, so the next role starts without it.
            self.close(c);
            self.drop_conn(c);
        }
        self.waiting = Default::default();
        self.uncommitted = Default::default();
        self.take_log();
        self.role = Role::NotServing;
    }

    /// Leader.startZkServer: serve as leader from `zxid` (the new epoch's first zxid).
    /// Every known session gets a full timeout from now, as the leader's session tracker
    /// gives the sessions it loads.
    pub(crate) fn start_leading(&mut self, zxid: i64) {
        self.last_zxid = zxid;
        self.tree.last_processed_zxid = zxid;
        let now = self.now_ms();
        let ids: Vec<i64> = self.sessions.all().map(|s| s.id).collect();
        for id in ids {
            self.sessions.touch(id, now);
        }
        self.role = Role::Leading(Leading::default());
    }

    /// Replaces the tree and sessions (a SNAP or TRUNC while syncing; no client is served).
    pub(crate) fn reset_state(
        &mut self,
        tree: crate::tree::DataTree,
        sessions: impl IntoIterator<Item = (i64, i32)>,
    ) {
        self.tree = tree;
        self.watches = Default::default();
        let now = self.now_ms();
        let ids: Vec<i64> = self.sessions.all().map(|s| s.id).collect();
        for id in ids {
            self.sessions.remove(id);
        }
        for (id, timeout) in sessions {
            self.sessions.add(id, timeout, now);
        }
        self.last_zxid = self.tree.last_processed_zxid;
    }

    /// ZKDatabase.initConfigInZKDatabase: `/zookeeper/config` holds the quorum's config
    /// (QuorumMaj.toString), set with version -1 and the config's version as mzxid. It is
    /// outside the digest, so every server sets it on its own.
    pub(crate) fn init_config_node(&mut self, config: &str, version: i64) {
        let now = self.now.wall_ms;
        let data = Some(config.as_bytes().to_vec());
        // ZKDatabase.initConfigInZKDatabase: the node's mzxid is the config's version.
        if let Err(e) = self
            .tree
            .set_data(crate::tree::CONFIG_PATH, data, -1, version, now)
        {
            tracing::warn!("cannot set {}: {e:?}", crate::tree::CONFIG_PATH);
        }
    }

    /// The configuration changed (a reconfig was activated): the operations interfaces
    /// and the roles read the new membership from here on.
    pub(crate) fn set_config(&mut self, cfg: std::sync::Arc<crate::config::Config>) {
        self.cfg = cfg;
    }

    /// The tree stands at `zxid` (a snapshot's or a truncation's).
    pub(crate) fn set_last_processed(&mut self, zxid: i64) {
        self.tree.last_processed_zxid = zxid;
        self.last_zxid = zxid;
    }

    /// Synced with the leader: serve as follower.
    pub(crate) fn start_following(&mut self) {
        self.last_zxid = self.tree.last_processed_zxid;
        self.role = Role::Following(Following::default());
    }

    /// The REQUEST packets to send to the leader.
    pub(crate) fn take_to_leader(&mut self) -> Vec<QuorumPacket> {
        self.following()
            .map(|f| std::mem::take(&mut f.to_leader))
            .unwrap_or_default()
    }

    /// The touch table for a PING reply, drained (LearnerSessionTracker.snapshot).
    pub(crate) fn take_touched(&mut self) -> Vec<(i64, i32)> {
        self.following()
            .map(|f| f.touched.drain().collect())
            .unwrap_or_default()
    }

    /// Learners whose syncs wait for Leader.processSync.
    /// Leader: records an `observer_connection_stat_reset` for the role loop.
    pub(crate) fn reset_observer_stats(&mut self) {
        if let Role::Leading(l) = &mut self.role {
            l.reset_observer_stats = true;
        }
    }

    /// Leader: whether an `observer_connection_stat_reset` came since the last call.
    pub(crate) fn take_observer_stats_reset(&mut self) -> bool {
        match &mut self.role {
            Role::Leading(l) => std::mem::take(&mut l.reset_observer_stats),
            _ => false,
        }
    }

    pub(crate) fn take_learner_syncs(&mut self) -> Vec<Sid> {
        match &mut self.role {
            Role::Leading(l) => std::mem::take(&mut l.syncs),
            _ => Vec::new(),
        }
    }

    /// Follower: sends a request to the leader and queues who waits for its commit.
    pub(crate) fn forward(&mut self, conn: ConnId, sid: i64, xid: i32, opcode: i32, body: &[u8]) {
        let ids = self
            .conns
            .get(&conn)
            .map(|c| c.ids.clone())
            .unwrap_or_default();
        let packet = request_packet(sid, xid, opcode, body, &ids);
        if let Some(f) = self.following() {
            f.to_leader.push(packet);
        }
        let origin = Origin::Client { conn, xid, opcode };
        self.waiting.push(Waiting::Forwarded {
            session_id: sid,
            cxid: xid,
            origin,
        });
    }

    /// Follower: a sync goes to the leader; it is answered when the leader's SYNC comes
    /// back, after every txn the leader proposed before it.
    pub(crate) fn forward_sync(
        &mut self,
        conn: ConnId,
        sid: i64,
        xid: i32,
        body: &[u8],
        path: String,
    ) {
        let ids = self
            .conns
            .get(&conn)
            .map(|c| c.ids.clone())
            .unwrap_or_default();
        let packet = request_packet(sid, xid, op::SYNC, body, &ids);
        if let Some(f) = self.following() {
            f.to_leader.push(packet);
        }
        self.waiting.push(Waiting::Sync { conn, xid, path });
    }

    /// Follower: a new session's createSession goes to the leader, the connection's auth
    /// (its ip id) with it; the ConnectResponse goes out when it comes back committed.
    pub(crate) fn forward_create_session(&mut self, id: i64, timeout: i32, origin: Origin) {
        let ids = match &origin {
            Origin::Connect { conn, .. } => self
                .conns
                .get(conn)
                .map(|c| c.ids.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let packet = request_packet(id, 0, op::CREATE_SESSION, &timeout.to_be_bytes(), &ids);
        if let Some(f) = self.following() {
            f.to_leader.push(packet);
        }
        self.waiting.push(Waiting::Forwarded {
            session_id: id,
            cxid: 0,
            origin,
        });
    }

    /// Follower: the leader committed `entry` (CommitProcessor): applied to the tree with
    /// its watches; if a request of ours waits for it, that request is answered, and what
    /// waited behind it is released.
    pub(crate) fn commit_from_leader(&mut self, entry: TxnEntry) {
        let (client, cxid) = (entry.header.client_id, entry.header.cxid);
        let origin = self.take_forwarded(client, cxid);
        self.commit_entry(entry, origin);
        self.release();
    }

    /// Follower (or observer): a txn applied during the sync with the leader (no client is
    /// served yet).
    pub(crate) fn apply_from_leader(&mut self, entry: &TxnEntry) {
        self.commit_entry(entry.clone(), Origin::Internal);
    }

    /// The forwarded request the committed txn (session, cxid) answers, if it is ours.
    fn take_forwarded(&mut self, session_id: i64, cxid: i32) -> Origin {
        let Some(at) = self.waiting.position(|w| {
            matches!(w, Waiting::Forwarded { session_id: s, cxid: c, .. } if *s == session_id && *c == cxid)
        }) else {
            return Origin::Internal;
        };
        if at > 0 {
            // The leader answered a later request of ours first: the ones before it were
            // dropped on the way (a session the leader no longer had). Their clients get
            // no reply, as from ZooKeeper, and what waited behind them may go.
            let dropped = self.waiting.drop_forwarded_before(at);
            tracing::warn!(
                "{dropped} forwarded requests were not committed by the leader: dropped"
            );
            self.release();
        }
        match self.waiting.pop_front() {
            Some(Waiting::Forwarded { origin, .. }) => origin,
            other => {
                // release() stops at a blocking entry, and the match is the first one.
                if let Some(w) = other {
                    self.waiting.push_front(w);
                }
                Origin::Internal
            }
        }
    }

    /// Follower: the leader's SYNC came back: the oldest forwarded sync is answered.
    pub(crate) fn sync_done(&mut self) {
        let Some(at) = self.waiting.position(|w| matches!(w, Waiting::Sync { .. })) else {
            tracing::warn!("SYNC from the leader with no sync waiting");
            return;
        };
        if at > 0 {
            let dropped = self.waiting.drop_forwarded_before(at);
            tracing::warn!(
                "{dropped} forwarded requests were not committed before a sync: dropped"
            );
            self.release();
        }
        if let Some(Waiting::Sync { conn, xid, path }) = self.waiting.pop_front() {
            let zxid = self.tree.last_processed_zxid;
            let body = CreateResponse { path }.to_bytes();
            self.reply(conn, xid, zxid, 0, Some(&body));
        }
        self.release();
    }

    /// Leader: a request a learner forwarded (LearnerHandler REQUEST → prep). Nothing is
    /// answered here: the learner answers its client when the txn is committed.
    pub(crate) fn learner_request(
        &mut self,
        from: Sid,
        session_id: i64,
        cxid: i32,
        opcode: i32,
        body: &[u8],
        authinfo: Vec<Id>,
    ) {
        if !matches!(self.role, Role::Leading(_)) {
            return;
        }
        match opcode {
            op::SYNC => {
                if let Role::Leading(l) = &mut self.role {
                    l.syncs.push(from);
                }
            }
            op::CREATE_SESSION => {
                let Some(timeout) = body
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(i32::from_be_bytes)
                else {
                    tracing::warn!("createSession from learner {} without a timeout", from.0);
                    return;
                };
                self.set_owner(session_id, Owner::Learner(from.0));
                self.create_session(session_id, timeout, Origin::Forwarded { cxid });
            }
            op::CLOSE_SESSION => self.close_session(session_id, Origin::Forwarded { cxid }),
            _ => match Request::decode(opcode, body) {
                Ok(r) if r.is_write() => {
                    let by = crate::server::requests::Caller {
                        session_id,
                        ids: &authinfo,
                        owner: Owner::Learner(from.0),
                    };
                    self.write_as(&by, cxid, opcode, &r, Origin::Forwarded { cxid })
                }
                Ok(_) => {
                    tracing::warn!("learner {} forwarded a read (op {opcode}): ignored", from.0)
                }
                Err(e) => {
                    tracing::warn!("failed to process a learner's request: {e}");
                    self.malformed_write(session_id, cxid, Origin::Forwarded { cxid });
                }
            },
        }
    }

    /// Leader: `owner` now holds the session (createSession, a reconnect, REVALIDATE).
    pub(crate) fn set_owner(&mut self, session_id: i64, owner: Owner) {
        if let Role::Leading(l) = &mut self.role {
            l.owners.insert(session_id, owner);
        }
    }

    /// Leader: whether a request of `owner` finds its session held by another; a session
    /// nobody holds yet is claimed (SessionTrackerImpl.checkSession).
    pub(crate) fn session_moved(&mut self, session_id: i64, owner: Owner) -> bool {
        let Role::Leading(l) = &mut self.role else {
            return false;
        };
        match l.owners.get(&session_id) {
            Some(o) => *o != owner,
            None => {
                l.owners.insert(session_id, owner);
                false
            }
        }
    }

    /// Follower: a reconnect is checked by the leader (Learner.validateSession), which
    /// makes this server the session's owner; the answer waits in line.
    pub(crate) fn revalidate_at_leader(
        &mut self,
        conn: ConnId,
        req: crate::proto::ConnectRequest,
        addr: std::net::SocketAddr,
        timeout: i32,
    ) {
        let ask = crate::proto::quorum::payload::RevalidateAsk {
            session_id: req.session_id,
            timeout_ms: timeout,
        };
        let packet = QuorumPacket {
            r#type: pt::REVALIDATE,
            zxid: -1,
            data: Some(crate::proto::quorum::payload::Payload::to_data(&ask)),
            authinfo: None,
        };
        if let Some(f) = self.following() {
            f.to_leader.push(packet);
        }
        self.waiting.push(Waiting::Revalidate {
            conn,
            req,
            addr,
            timeout,
        });
    }

    /// Follower: the leader's answer to a REVALIDATE.
    pub(crate) fn revalidated(&mut self, session_id: i64, valid: bool) {
        let Some(at) = self.waiting.position(
            |w| matches!(w, Waiting::Revalidate { req, .. } if req.session_id == session_id),
        ) else {
            tracing::warn!("REVALIDATE answer for 0x{session_id:x}, which nobody asked about");
            return;
        };
        // Answered in its place in line: the output waits for what is before it.
        let mark = self.outbox_len();
        if let Some(Waiting::Revalidate {
            conn,
            req,
            addr,
            timeout,
        }) = self.waiting.replace(at, Waiting::Output(Vec::new()))
        {
            if valid {
                let now = self.now_ms();
                if self.sessions.get(session_id).is_none() {
                    self.sessions.add(session_id, timeout, now);
                }
                self.sessions.set_timeout(session_id, timeout);
                self.sessions.touch(session_id, now);
            }
            self.answer_reconnect(conn, &req, addr, timeout, valid);
        }
        let out = self.outbox_split_off(mark);
        self.waiting.replace(at, Waiting::Output(out));
        self.release();
    }

    /// Leader: sessions a learner reports touched in its PING reply.
    pub(crate) fn touch_sessions(&mut self, touches: &[(i64, i32)]) {
        let now = self.now_ms();
        for &(id, _) in touches {
            if !self.sessions.touch(id, now) {
                tracing::debug!("touch of unknown session 0x{id:x} from a learner");
            }
        }
    }

    /// Leader: whether a session may reattach at a learner (Leader.revalidateSession):
    /// valid if known and not closing, and then touched.
    pub(crate) fn revalidate(&mut self, from: Sid, session_id: i64, timeout_ms: i32) -> bool {
        let now = self.now_ms();
        let valid = self.sessions.is_valid(session_id) && {
            self.sessions.set_timeout(session_id, timeout_ms);
            self.sessions.touch(session_id, now)
        };
        if valid {
            self.set_owner(session_id, Owner::Learner(from.0));
        }
        valid
    }

    /// Records a session touch for the next PING reply (follower), or nothing.
    pub(crate) fn note_touch(&mut self, session_id: i64) {
        let timeout = self.sessions.get(session_id).map(|s| s.timeout_ms);
        if let (Some(f), Some(t)) = (self.following(), timeout) {
            f.touched.insert(session_id, t);
        }
    }

    /// Whether this server may expire sessions (only the leader, or standalone, does).
    pub(crate) fn expires_sessions(&self) -> bool {
        matches!(self.role, Role::Standalone | Role::Leading(_))
    }
}
