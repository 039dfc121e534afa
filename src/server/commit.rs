//! Propose and commit, ZooKeeper's standalone pipeline split at the log (prep -> sync ->
//! final): a write is prepped over the uncommitted state and proposed (its txn goes to the
//! log and waits in [`Waiting`]); once the log says it is durable, it is committed: applied
//! to the tree, its watches fired and its reply sent. The tree therefore only ever holds
//! durable txns, and a quorum role can put its ACK round between propose and commit.
//!
//! Everything that must not overtake a proposed write waits behind it, in arrival order:
//! the reads of every session (a standalone server answers in one global order, as
//! ZooKeeper's single pipeline does), and the output of what was handled at once (auth,
//! reconnects).

use std::collections::VecDeque;

use crate::jute::Jute;
use crate::pipeline::apply::{apply, Applied, OpResult};
use crate::proto::{
    op, ConnectResponse, Create2Response, CreateResponse, MultiResponse, MultiResult, Request,
    StatResponse, Txn, TxnEntry, TxnHeader,
};
use crate::server::core::{Core, Out};
use crate::server::facts::RequestMark;

/// Prep's changes of one request, path -> node (`None`: deleted).
pub(crate) type Changes =
    std::collections::HashMap<String, Option<crate::pipeline::pending::PendingNode>>;
use crate::watch::ConnId;

/// Who is waiting for a proposal's commit.
#[derive(Debug)]
pub(crate) enum Origin {
    /// A client's write: the reply goes to this connection.
    Client { conn: ConnId, xid: i32, opcode: i32 },
    /// A new session's createSession: the ConnectResponse goes out once it is committed.
    Connect {
        conn: ConnId,
        timeout: i32,
        read_only: Option<bool>,
    },
    /// The server's own txn (session expiry, the container reaper), or a txn another
    /// server's client asked for (a follower's commit of the leader's txn).
    Internal,
    /// Leader: a learner forwarded it; the learner answers its client.
    Forwarded { cxid: i32 },
}

/// What waits for the log, in the order it must come out.
#[derive(Debug)]
pub(crate) enum Waiting {
    /// A proposed txn, committed once the log has it.
    Proposal { entry: TxnEntry, origin: Origin },
    /// A read that must see every write proposed before it.
    Read {
        conn: ConnId,
        xid: i32,
        opcode: i32,
        req: Request,
    },
    /// Output of something handled at once, held so it does not overtake earlier replies.
    Output(Vec<(ConnId, Out)>),
    /// Requests whose latency is counted once everything before them is out.
    Marks(Vec<RequestMark>),
    /// Follower: a request forwarded to the leader, answered when its txn (session, cxid)
    /// comes back committed.
    Forwarded {
        session_id: i64,
        cxid: i32,
        origin: Origin,
    },
    /// Follower: a sync forwarded to the leader, answered when the leader's SYNC comes.
    Sync {
        conn: ConnId,
        xid: i32,
        path: String,
    },
    /// Follower: a reconnect the leader is asked about (REVALIDATE).
    Revalidate {
        conn: ConnId,
        req: crate::proto::ConnectRequest,
        addr: std::net::SocketAddr,
        timeout: i32,
    },
}

impl Waiting {
    /// The connections whose output this entry holds (or makes).
    fn conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        let one = match self {
            Waiting::Proposal { origin, .. } | Waiting::Forwarded { origin, .. } => match origin {
                Origin::Client { conn, .. } | Origin::Connect { conn, .. } => Some(*conn),
                Origin::Internal | Origin::Forwarded { .. } => None,
            },
            Waiting::Read { conn, .. }
            | Waiting::Sync { conn, .. }
            | Waiting::Revalidate { conn, .. } => Some(*conn),
            Waiting::Output(_) | Waiting::Marks(_) => None,
        };
        let many = match self {
            Waiting::Output(out) => out.as_slice(),
            _ => &[],
        };
        one.into_iter().chain(many.iter().map(|(c, _)| *c))
    }
}

/// The proposals and deferred work of a server, oldest first, and how many entries hold
/// each connection's output (a leader or follower answers a read of a connection with
/// nothing waiting at once, as ZooKeeper's CommitProcessor orders per session).
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    queue: VecDeque<Waiting>,
    held: std::collections::HashMap<ConnId, u32>,
}

impl WaitQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether anything waiting holds output of `conn`.
    pub(crate) fn holds(&self, conn: ConnId) -> bool {
        self.held.contains_key(&conn)
    }

    fn count_in(&mut self, w: &Waiting) {
        for c in w.conns() {
            *self.held.entry(c).or_default() += 1;
        }
    }

    fn count_out(&mut self, w: &Waiting) {
        for c in w.conns() {
            if let std::collections::hash_map::Entry::Occupied(mut e) = self.held.entry(c) {
                *e.get_mut() -= 1;
                if *e.get() == 0 {
                    e.remove();
                }
            }
        }
    }

    pub(crate) fn push(&mut self, w: Waiting) {
        self.count_in(&w);
        self.queue.push_back(w);
    }

    /// The next entry that may go, given the log is durable up to `durable`.
    fn pop_ready(&mut self, durable: i64) -> Option<Waiting> {
        match self.queue.front()? {
            Waiting::Proposal { entry, .. } if entry.header.zxid > durable => None,
            Waiting::Forwarded { .. } | Waiting::Sync { .. } | Waiting::Revalidate { .. } => None,
            _ => self.pop_front(),
        }
    }

    pub(crate) fn position(&self, f: impl Fn(&Waiting) -> bool) -> Option<usize> {
        self.queue.iter().position(f)
    }

    pub(crate) fn pop_front(&mut self) -> Option<Waiting> {
        let w = self.queue.pop_front()?;
        self.count_out(&w);
        Some(w)
    }

    pub(crate) fn push_front(&mut self, w: Waiting) {
        self.count_in(&w);
        self.queue.push_front(w);
    }

    /// Drops the forwarded requests and syncs before `at` (the leader will not answer
    /// them), keeping what else waits in its order; returns how many went.
    pub(crate) fn drop_forwarded_before(&mut self, at: usize) -> usize {
        let mut kept = VecDeque::with_capacity(self.queue.len());
        let mut gone = Vec::new();
        for (i, w) in std::mem::take(&mut self.queue).into_iter().enumerate() {
            if i < at && matches!(w, Waiting::Forwarded { .. } | Waiting::Sync { .. }) {
                gone.push(w);
            } else {
                kept.push_back(w);
            }
        }
        self.queue = kept;
        for w in &gone {
            self.count_out(w);
        }
        gone.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Replaces the entry at `at` (an answered blocking entry keeps its place in line).
    pub(crate) fn replace(&mut self, at: usize, w: Waiting) -> Option<Waiting> {
        let slot = self.queue.get_mut(at)?;
        let old = std::mem::replace(slot, w);
        if let Some(new) = self.queue.get(at) {
            let conns: Vec<ConnId> = new.conns().collect();
            for c in conns {
                *self.held.entry(c).or_default() += 1;
            }
        }
        self.count_out(&old);
        Some(old)
    }
}

impl Core {
    /// Proposes a txn (its header's zxid taken from `next_zxid`, its time stamped here):
    /// logs the entry and queues it for commit. `changes` are prep's pending changes, seen
    /// by later preps until the commit.
    pub(crate) fn propose(
        &mut self,
        mut header: TxnHeader,
        txn: Txn,
        changes: Option<Changes>,
        origin: Origin,
    ) {
        let zxid = header.zxid;
        debug_assert!(zxid > self.tree.last_processed_zxid);
        header.time = self.now.wall_ms;
        let entry = TxnEntry {
            header,
            txn,
            digest: None,
        };
        self.log_txn(zxid, &entry.to_bytes());
        if let Some(c) = changes {
            self.uncommitted.add(zxid, c);
        }
        self.waiting.push(Waiting::Proposal { entry, origin });
    }

    /// The log is durable up to `zxid`: commits the proposals it covers and releases what
    /// waited behind them, up to the next proposal still waiting for the log.
    pub fn durable(&mut self, zxid: i64) {
        while let Some(w) = self.waiting.pop_ready(zxid) {
            match w {
                Waiting::Proposal { entry, origin } => self.commit_entry(entry, origin),
                Waiting::Read {
                    conn,
                    xid,
                    opcode,
                    req,
                } => self.answer_read(conn, xid, opcode, req),
                Waiting::Output(out) => self.outbox_extend(out),
                Waiting::Marks(marks) => self.ops.released_marks.extend(marks),
                // pop_ready never gives these.
                Waiting::Forwarded { .. } | Waiting::Sync { .. } | Waiting::Revalidate { .. } => {}
            }
        }
    }

    /// Releases what waits in front of the first entry still waiting for a commit.
    pub(crate) fn release(&mut self) {
        self.durable(self.tree.last_processed_zxid);
    }

    /// Applies a committed txn, fires its watches, updates sessions and answers its origin.
    pub(crate) fn commit_entry(&mut self, entry: TxnEntry, origin: Origin) {
        let zxid = entry.header.zxid;
        let applied = apply(&mut self.tree, &entry.header, &entry.txn);
        self.uncommitted.committed(zxid);
        // ZKDatabase.compareDigest: a leader's txn carries the tree digest after it.
        if let Some(d) = &entry.digest {
            let ours = self.tree.digest();
            if d.tree_digest != ours {
                self.ops.digest_mismatches += 1;
                tracing::error!(
                    "Digests are not matching. Value is Zxid. Expected {:#x}, actual {ours:#x} at zxid {zxid:#x}",
                    d.tree_digest
                );
            }
        }
        for t in &applied.triggers {
            let n = self.watches.trigger(t);
            self.notify(n);
        }
        if let Some((id, timeout)) = applied.session_created {
            let now = self.now_ms();
            // Usually there already, added (and maybe since marked closing) when the
            // session was proposed.
            if self.sessions.get(id).is_none() {
                self.sessions.add(id, timeout, now);
            }
        }
        if let Some(id) = applied.session_closed {
            self.sessions.remove(id);
        }
        match origin {
            Origin::Client { conn, xid, opcode } => {
                // An error txn for the whole request (a leader could not even read it) is
                // answered with the bare error, whatever the request was.
                let opcode = if entry.header.r#type == op::ERROR {
                    op::ERROR
                } else {
                    opcode
                };
                self.reply_write(conn, xid, opcode, &applied)
            }
            Origin::Connect {
                conn,
                timeout,
                read_only,
            } => {
                let id = entry.header.client_id;
                let resp = ConnectResponse {
                    protocol_version: 0,
                    time_out: timeout,
                    session_id: id,
                    passwd: crate::session::session_password(id).to_vec(),
                    read_only,
                };
                if self.conns.contains_key(&conn) {
                    self.send(conn, &resp.to_bytes());
                }
            }
            Origin::Internal | Origin::Forwarded { .. } => {}
        }
        // A closed session's connection closes when the close is committed, whoever asked
        // for it (the client, or the expiry of the session).
        if let Some(id) = applied.session_closed {
            if let Some(conn) = self.session_conn.remove(&id) {
                self.close(conn);
            }
        }
    }

    /// The reply to a committed write.
    fn reply_write(&mut self, conn: ConnId, xid: i32, opcode: i32, applied: &Applied) {
        let zxid = self.tree.last_processed_zxid;
        if opcode == op::CLOSE_SESSION {
            self.reply(conn, xid, zxid, 0, None);
            self.close(conn);
            return;
        }
        if opcode == op::MULTI {
            let results = applied.results.iter().map(multi_result).collect();
            let body = MultiResponse { results }.to_bytes();
            self.reply(conn, xid, zxid, 0, Some(&body));
            return;
        }
        let Some(r) = applied.results.first() else {
            return;
        };
        if r.err == crate::proto::ErrorCode::SessionMoved.code() {
            // FinalRequestProcessor: a moved session is a connection-level error; the
            // connection is closed without a reply (ZOOKEEPER-710).
            tracing::info!("closing a connection whose session moved to another server");
            self.close(conn);
            return;
        }
        if r.err != 0 {
            self.reply(conn, xid, zxid, r.err, None);
            return;
        }
        let stat = r.stat.clone().unwrap_or_default();
        let body = match opcode {
            op::CREATE => Some(
                CreateResponse {
                    path: r.path.clone(),
                }
                .to_bytes(),
            ),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => Some(
                Create2Response {
                    path: r.path.clone(),
                    stat,
                }
                .to_bytes(),
            ),
            op::SET_DATA | op::SET_ACL => Some(StatResponse { stat }.to_bytes()),
            // FinalRequestProcessor: the config now in force, with the config node's stat.
            op::RECONFIG => Some(
                crate::proto::GetDataResponse {
                    data: Some(
                        crate::config::dynamic::QuorumText::of(&self.cfg)
                            .to_text()
                            .into_bytes(),
                    ),
                    stat,
                }
                .to_bytes(),
            ),
            _ => None,
        };
        self.reply(conn, xid, zxid, 0, body.as_deref());
    }

    /// After a turn: the turn's request marks count once everything before them is out.
    pub fn hold_marks(&mut self) {
        let marks = std::mem::take(&mut self.ops.marks);
        if marks.is_empty() {
            return;
        }
        if self.waiting.is_empty() {
            self.ops.released_marks.extend(marks);
        } else {
            self.waiting.push(Waiting::Marks(marks));
        }
    }

    /// Runs `f`, holding the output it makes behind what waits for the log.
    pub(crate) fn in_order(&mut self, f: impl FnOnce(&mut Core)) {
        let held = !self.waiting.is_empty();
        let mark = self.outbox_len();
        f(self);
        if held {
            let out = self.outbox_split_off(mark);
            if !out.is_empty() {
                self.waiting.push(Waiting::Output(out));
            }
        }
    }
}

fn multi_result(r: &OpResult) -> MultiResult {
    let stat = r.stat.clone().unwrap_or_default();
    match r.op_type {
        // ZooKeeper 3.8 answers a create2 inside a multi without its stat (result type 1);
        // only container and TTL creates carry one.
        op::CREATE | op::CREATE2 => MultiResult::Create(CreateResponse {
            path: r.path.clone(),
        }),
        op::CREATE_CONTAINER | op::CREATE_TTL => MultiResult::Create2(Create2Response {
            path: r.path.clone(),
            stat,
        }),
        op::DELETE | op::DELETE_CONTAINER => MultiResult::Delete,
        op::SET_DATA => MultiResult::SetData(StatResponse { stat }),
        op::CHECK => MultiResult::Check,
        _ => MultiResult::Error(r.err),
    }
}
