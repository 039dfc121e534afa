//! LEADING: the Zab leader machine over the learners' links, with the core as its database
//! and pipeline (Leader.lead, LearnerHandler, LeaderZooKeeperServer).
//!
//! - Every txn the core proposes goes to the writer (the leader's own ACK once durable) and
//!   to the machine, which sends PROPOSALs; the machine's `Commit` commits it in the core,
//!   which applies it and answers the client.
//! - Learners' REQUESTs are prepped by the core like its own clients' writes; their PING
//!   touches keep sessions alive; the leader alone expires sessions.
//! - A learner is synced from the committed log or, further behind, the txn log (DIFF,
//!   TRUNC; see `txnlog_view`), or by a snapshot of the core's tree (SNAP), written while
//!   nothing else runs, so it is exactly the tree at the SNAP's zxid.

use std::collections::HashMap;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::learner_stats::LinkStats;
use super::txnlog_view::DiskTxnLog;
use super::{Peer, PeerError, Turn};
use crate::quorum::leader::sync::{LogSource, LogState, StreamRange};
use crate::quorum::leader::{
    Action, Leader, LeaderConfig, LeaderPacket, LeaderStart, LearnerPacket,
};
use crate::quorum::transport::election::ElectionPort;
use crate::quorum::transport::links::{
    LearnerListener, LinkEvent, LinkHandle, LinkId, LinkLimits, LinkOut,
};
use crate::quorum::transport::proposals::proposals_for;
use crate::quorum::transport::view::View;
use crate::quorum::{Majority, Sid, Zxid};
use crate::storage::zk::snapshot_stream;

/// Events from the learners' links waiting for the core.
const LINK_EVENTS: usize = 4096;
/// Txns read from the log at a time for a DIFF.
const STREAM_SLICE: usize = 1000;

struct Leading {
    leader: Leader<Majority>,
    view: View,
    /// The learners' links: who is at the other end (once it said) and its counters.
    links: HashMap<LinkId, (LinkHandle, Option<Sid>, LinkStats)>,
    /// Proposals made and not yet committed, for the committed log.
    /// Proposed txns waiting for their quorum, with the ms they were proposed at.
    proposed: HashMap<i64, (Bytes, u64)>,
    /// When the epoch was established (ms on the peer's clock).
    established_at: Option<u64>,
    /// Proposal sizes: last, min, max (Leader.getProposalStats).
    proposal_sizes: (i64, i64, i64),
    /// What NEWLEADER carries: the config activated once the epoch is established.
    newleader_config: LeaderStart,
    /// The forwarding followers and config version the core's reconfig context was
    /// last built from.
    reconfig_key: Option<(std::collections::BTreeSet<Sid>, i64)>,
}

/// Whether our log holds the reconfig txn that proposed config `version` (its zxid).
fn reconfig_logged(peer: &Peer, version: i64) -> bool {
    use crate::storage::TxnLog;
    match peer.log.read_range(version - 1, 1) {
        Ok(entries) => entries
            .first()
            .is_some_and(|(z, data)| *z == version && reconfig_config(data).is_some()),
        Err(e) => {
            tracing::warn!("cannot read the reconfig {version:#x} from the log: {e}");
            false
        }
    }
}

/// The config a reconfig txn proposes, if `data` (a txn entry) is one.
fn reconfig_config(data: &[u8]) -> Option<crate::config::dynamic::QuorumText> {
    // TxnHeader: clientId, cxid, zxid, time, then the type at byte 28.
    let ty = i32::from_be_bytes(data.get(28..32)?.try_into().ok()?);
    if ty != crate::proto::op::RECONFIG {
        return None;
    }
    match crate::proto::TxnEntry::from_bytes(data).ok()?.txn {
        crate::proto::Txn::Reconfig(t) => {
            let text = String::from_utf8(t.data.unwrap_or_default()).ok()?;
            crate::config::dynamic::QuorumText::parse(&text).ok()
        }
        _ => None,
    }
}

/// The core's reconfig context (what a reconfig request is prepared against), rebuilt
/// when the synced followers or the config change.
fn refresh_reconfig_ctx(peer: &mut Peer, l: &mut Leading) {
    if !peer.cfg.reconfig_enabled || l.established_at.is_none() {
        return;
    }
    let Some(b) = l.leader.broadcast() else {
        return;
    };
    let version = peer.cfg.config_version;
    let forwarding = b.forwarding_followers();
    if (l.reconfig_key.as_ref()).is_some_and(|(f, v)| f == forwarding && *v == version) {
        return;
    }
    let mut synced: std::collections::BTreeSet<u64> = forwarding.iter().map(|s| s.0).collect();
    synced.insert(l.view.me.0);
    let last_seen =
        (peer.core.reconfig.as_ref()).map_or(version, |q| q.last_seen_version.max(version));
    peer.core.reconfig = Some(crate::pipeline::reconfig::ReconfigCtx {
        current: crate::config::dynamic::QuorumText::of(&peer.cfg),
        last_seen_version: last_seen,
        synced,
        standalone_enabled: peer.cfg.standalone_enabled,
        skip_acl: peer.cfg.skip_acl(),
    });
    l.reconfig_key = Some((forwarding.clone(), version));
}

impl Leading {
    /// LeaderZooKeeperServer's gauges.
    fn facts(&self, now_ms: u64) -> crate::server::facts::LeadingFacts {
        use crate::quorum::QuorumVerifier;
        let (followers, observing, pending) = match self.leader.broadcast() {
            Some(b) => (
                b.forwarding_followers().clone(),
                b.observing().clone(),
                b.pending_syncs(),
            ),
            None => Default::default(),
        };
        let voters = self.view.qv.voting_members();
        let voting = followers.iter().filter(|s| voters.contains(s)).count();
        let mut learner_sids: Vec<u64> = self
            .links
            .values()
            .filter_map(|(_, s, _)| *s)
            .map(|s| s.0)
            .collect();
        learner_sids.sort_unstable();
        learner_sids.dedup();
        let mut observers: Vec<_> = (self.links.values())
            .filter_map(|(h, sid, stats)| {
                let sid = (*sid).filter(|s| observing.contains(s))?;
                Some(stats.facts(format!("/{}", h.addr()), sid.0, h.queued()))
            })
            .collect();
        observers.sort_by_key(|o| o.sid);
        crate::server::facts::LeadingFacts {
            learners: self.leader.learner_count(),
            synced_followers: voting,
            synced_non_voting_followers: followers.len() - voting,
            synced_observers: observing.len(),
            // With linearizableSync, the syncs still waiting for their round count too.
            pending_syncs: pending + self.leader.confirming_syncs(),
            uptime_ms: self.established_at.map_or(0, |t| now_ms.saturating_sub(t)),
            proposal_sizes: self.proposal_sizes,
            learner_sids,
            observers,
        }
    }
}

impl Leading {
    fn link_of(&self, sid: Sid) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, (_, s, _))| *s == Some(sid))
            .map(|(id, _)| *id)
    }

    fn close(&mut self, link: LinkId, why: &str) {
        if let Some((h, sid, _)) = self.links.remove(&link) {
            tracing::warn!("closing the link to learner {sid:?} at {}: {why}", h.addr());
            h.close();
            if let Some(sid) = sid {
                self.leader.remove_learner(sid);
            }
        }
    }

    fn send(&mut self, to: Sid, out: LinkOut) {
        let Some(link) = self.link_of(to) else {
            return;
        };
        let full = match self.links.get_mut(&link) {
            Some((h, _, stats)) => {
                stats.on_send(&out);
                h.send(out).is_err()
            }
            None => false,
        };
        if full {
            self.close(link, "its send queue is full");
        }
    }
}

/// Leads until the machine gives up (a lost quorum) or the peer stops.
pub(super) async fn lead(peer: &mut Peer, port: &ElectionPort) -> Result<(), PeerError> {
    let cfg = peer.cfg.clone();
    let view = View::from_config(&cfg)?;
    let listener = LearnerListener::bind(&cfg)
        .await?
        .with_limits(LinkLimits::from_config(&cfg))
        .with_tls(port.quorum_tls())
        .with_auth(port.quorum_auth());
    tracing::debug!("learners connect to {}", listener.local_addr());
    let (events_tx, mut events) = mpsc::channel(LINK_EVENTS);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    tokio::spawn(listener.run(events_tx, cancel));
    // Leader.lead: a config seen but not activated (a reconfig in our log whose
    // COMMITANDACTIVATE we never got) is offered in NEWLEADER, needs its own quorum of
    // NEWLEADER ACKs, and is activated once the epoch is established.
    // Only a config whose reconfig txn our log holds: one whose proposal never reached
    // the disk (a crash before its fsync) was committed by nobody's history (found by
    // quorum::sim, seed 3029 with SIM_LAST_SEEN_WITHOUT_TXN).
    let last_seen = (peer.last_seen.clone())
        .filter(|q| cfg.reconfig_enabled && q.version > cfg.config_version)
        .filter(|q| reconfig_logged(peer, q.version));
    let (members, last_seen_version) = match &last_seen {
        Some(q) => (q.member_lines(), q.version),
        None => (
            crate::config::dynamic::QuorumText::of(&cfg).member_lines(),
            cfg.config_version,
        ),
    };
    let last_seen_qv = last_seen.as_ref().map(|q| {
        Majority::new(
            q.voters().map(Sid),
            (q.servers.values().filter(|s| s.observer)).map(|s| Sid(s.sid)),
        )
    });
    let last = Zxid(peer.core.tree().last_processed_zxid);
    let start = LeaderStart {
        accepted_epoch: peer.epochs.accepted_epoch(),
        current_epoch: peer.epochs.current_epoch(),
        last_processed_zxid: last,
        durable_zxid: Zxid(peer.durable),
        config_version: cfg.config_version,
        last_seen_config_version: last_seen_version,
        reconfig_enabled: cfg.reconfig_enabled,
        config_members: members,
    };
    let lcfg = LeaderConfig {
        my_sid: view.me,
        tick_ms: cfg.tick_time_ms,
        init_limit: u64::from(cfg.init_limit),
        sync_limit: u64::from(cfg.sync_limit),
    };
    let now = peer.now_ms();
    let newleader_config = start.clone();
    let (mut leader, actions) =
        Leader::with_last_seen(lcfg, view.qv.clone(), last_seen_qv, start, now);
    leader.set_linearizable_sync(cfg.linearizable_sync, view.qv.clone());
    let mut l = Leading {
        leader,
        view,
        links: HashMap::new(),
        proposed: HashMap::new(),
        established_at: None,
        proposal_sizes: (-1, -1, -1),
        newleader_config,
        reconfig_key: None,
    };
    let me = l.view.me.0;
    peer.report("leading - discovery", Some(me), None);
    tracing::info!("sid {} leading from zxid {:#x}", l.view.me.0, last.0);
    if perform(peer, port, &mut l, actions).await? {
        return Ok(());
    }
    loop {
        let wake = l.leader.next_wakeup_ms();
        let got = peer.turn(events.recv(), wake).await?;
        let now = peer.now_ms();
        let actions = match got {
            Turn::Clients => Vec::new(),
            Turn::Durable(z) => l.leader.on_durable(Zxid(z), now),
            Turn::Tick => l.leader.on_tick(now),
            Turn::Role(None) => return Ok(()),
            Turn::Role(Some(ev)) => on_event(peer, &mut l, ev, now),
        };
        if perform(peer, port, &mut l, actions).await? {
            return Ok(());
        }
    }
}

fn on_event(peer: &mut Peer, l: &mut Leading, ev: LinkEvent, now: u64) -> Vec<Action> {
    match ev {
        LinkEvent::Opened { link, addr, handle } => {
            tracing::debug!("a learner connected from {addr}");
            l.links.insert(
                link,
                (handle, None, LinkStats::new(peer.clock.now().wall_ms)),
            );
            Vec::new()
        }
        LinkEvent::Closed { link, reason } => {
            if let Some((_, sid, _)) = l.links.remove(&link) {
                tracing::info!("learner {sid:?} link closed: {reason}");
                if let Some(sid) = sid {
                    l.leader.remove_learner(sid);
                }
            }
            Vec::new()
        }
        LinkEvent::Snapshot { link, .. } => {
            l.close(link, "a learner sent SNAP");
            Vec::new()
        }
        LinkEvent::Packet { link, packet } => {
            let Some(known) = l.links.get(&link).map(|(_, s, _)| *s) else {
                return Vec::new();
            };
            let decoded = LearnerPacket::decode(
                packet.r#type,
                packet.zxid,
                packet.data.as_deref(),
                packet.authinfo,
            );
            let p = match decoded {
                Ok(p) => p,
                Err(e) => {
                    l.close(link, &e.to_string());
                    return Vec::new();
                }
            };
            if let Some((_, _, stats)) = l.links.get_mut(&link) {
                stats.on_received(&p);
            }
            let committed = peer.committed.zxids();
            // Read only if a learner turns out older than the committed log.
            let disk = DiskTxnLog::new(&peer.log, peer.cfg.pre_alloc_size_bytes);
            let log = LogState {
                last_processed_zxid: Zxid(peer.core.tree().last_processed_zxid),
                committed_log: &committed,
                txn_log: &disk,
                snapshot_size_factor: peer.cfg.snapshot_size_factor,
                force_snap_sync: false,
            };
            let got = match known {
                Some(sid) => l.leader.on_packet(sid, p, &log, now),
                None => match l.leader.on_learner_info(p, &log, now) {
                    Ok((sid, actions)) => {
                        if !l.view.peers.contains_key(&sid) {
                            // LearnerHandler lets it follow, not voting: a server joining
                            // by reconfig, or one a reconfig removed. The listener's link
                            // cap bounds them.
                            tracing::info!(
                                "Follower sid: {} not in the current config {:x}",
                                sid.0,
                                peer.cfg.config_version
                            );
                        }
                        // A learner reconnecting replaces its old link.
                        if let Some(old) = l.link_of(sid) {
                            if let Some((h, _, _)) = l.links.remove(&old) {
                                h.close();
                            }
                        }
                        if let Some(entry) = l.links.get_mut(&link) {
                            entry.1 = Some(sid);
                        }
                        Ok(actions)
                    }
                    Err(e) => Err(e),
                },
            };
            match got {
                Ok(a) => a,
                Err(e) => {
                    // The machine has forgotten the learner already.
                    if let Some((h, _, _)) = l.links.remove(&link) {
                        tracing::warn!("closing the link to the learner at {}: {e}", h.addr());
                        h.close();
                    }
                    Vec::new()
                }
            }
        }
    }
}

/// Performs the machine's actions in order, with what the core proposed in between.
/// `true` when leadership ends.
async fn perform(
    peer: &mut Peer,
    port: &ElectionPort,
    l: &mut Leading,
    actions: Vec<Action>,
) -> Result<bool, PeerError> {
    let mut queue: std::collections::VecDeque<Action> = actions.into();
    loop {
        while let Some(a) = queue.pop_front() {
            if let Some(more) = act(peer, port, l, a).await? {
                queue.extend(more);
            } else {
                return Ok(true);
            }
        }
        // What the core proposed (its clients', the learners' requests, expiries) goes to
        // the log and to the quorum, in zxid order; then the learners' syncs.
        let entries = peer.core.take_log();
        let now = peer.now_ms();
        for (zxid, data) in &entries {
            // BufferStats of the proposal's data, SerializeUtils.serializeRequest's length,
            // as Leader.propose counts it (not the whole QuorumPacket).
            let size = data.len() as i64;
            let (_, min, max) = l.proposal_sizes;
            l.proposal_sizes = (
                size,
                if min < 0 { size } else { min.min(size) },
                max.max(size),
            );
            let data = Bytes::copy_from_slice(data);
            l.proposed.insert(*zxid, (data.clone(), now));
            crate::server::metrics::count("proposal_count", 1);
            let proposed = match reconfig_config(&data) {
                Some(q) => {
                    // Leader.propose of a reconfig: the new config is the last seen, and
                    // every proposal until its commit needs a quorum of both.
                    peer.seen_config(port, q.to_text().as_bytes()).await?;
                    let qv = crate::quorum::Majority::new(
                        q.voters().map(Sid),
                        (q.servers.values().filter(|s| s.observer)).map(|s| Sid(s.sid)),
                    );
                    // NEWLEADER keeps offering the committed config until this commits:
                    // Java offers the pending one, which a learner syncing meanwhile
                    // activates at UPTODATE before it is committed (found by quorum::sim).
                    // The learner still learns the pending config from its PROPOSAL.
                    l.leader.propose_reconfig(Zxid(*zxid), data, qv, now)
                }
                None => l.leader.propose(Zxid(*zxid), data, now),
            };
            match proposed {
                Ok(a) => queue.extend(a),
                Err(e) => {
                    tracing::error!("cannot propose {zxid:#x}: {e}");
                    return Ok(true);
                }
            }
        }
        peer.submit(entries)?;
        refresh_reconfig_ctx(peer, l);
        if peer.core.take_observer_stats_reset() {
            let observing = l.leader.broadcast().map(|b| b.observing().clone());
            for (_, sid, stats) in l.links.values_mut() {
                if sid.is_some_and(|s| observing.as_ref().is_some_and(|o| o.contains(&s))) {
                    stats.reset();
                }
            }
        }
        for sid in peer.core.take_learner_syncs() {
            queue.extend(l.leader.process_sync(sid));
        }
        for token in peer.core.take_local_syncs() {
            queue.extend(l.leader.local_sync(token));
        }
        if queue.is_empty() {
            break;
        }
    }
    if l.established_at.is_some() {
        let facts = l.facts(peer.now_ms());
        peer.report("leading - broadcast", Some(l.view.me.0), Some(facts));
    }
    peer.finish_turn();
    Ok(l.leader.gave_up())
}

/// One action; `None` when leadership ends.
async fn act(
    peer: &mut Peer,
    port: &ElectionPort,
    l: &mut Leading,
    a: Action,
) -> Result<Option<Vec<Action>>, PeerError> {
    let mut more = Vec::new();
    match a {
        Action::Send { to, packet } => l.send(to, LinkOut::Packet(packet.to_packet())),
        Action::PersistAcceptedEpoch(e) => peer.epochs.set_accepted_epoch(e)?,
        Action::PersistCurrentEpoch(e) => peer.epochs.set_current_epoch(e)?,
        Action::StreamSnapshot { to } => {
            let sessions = peer.core.session_list();
            let bytes = snapshot_stream(peer.core.tree(), &sessions);
            tracing::info!(
                "sending learner {} a snapshot at {:#x} ({} bytes)",
                to.0,
                peer.core.tree().last_processed_zxid,
                bytes.len()
            );
            l.send(to, LinkOut::Raw(bytes));
        }
        Action::StreamProposals { to, range } => stream(peer, l, to, range)?,
        Action::Established { zxid } => {
            tracing::info!("established epoch {} at {:#x}", zxid.epoch(), zxid.0);
            // Leader.lead: the config NEWLEADER carried is activated before serving.
            let config = l.newleader_config.new_leader_config(zxid.epoch());
            let me = l.view.me;
            peer.process_reconfig(port, &config, Some((me.as_i64(), zxid)), me)
                .await?;
            // Learners that sync from now on are held to, and offered, that config.
            l.leader
                .set_committed_config_version(peer.cfg.config_version);
            if peer.cfg.reconfig_enabled {
                let members = crate::config::dynamic::QuorumText::of(&peer.cfg).member_lines();
                l.leader
                    .set_last_seen_config(peer.cfg.config_version, members);
            }
            peer.core.start_leading(zxid.0);
            l.established_at = Some(peer.now_ms());
            if let Err(e) = port.update_election_vote(zxid.epoch()).await {
                tracing::warn!("cannot update the election vote: {e}");
            }
        }
        Action::Forwarded { from, request } => {
            if let LearnerPacket::Request {
                session_id,
                cxid,
                op_type,
                body,
                authinfo,
            } = *request
            {
                let ids = authinfo.unwrap_or_default();
                peer.core
                    .learner_request(from, session_id, cxid, op_type, &body, ids);
            }
        }
        Action::Revalidate {
            from,
            session_id,
            timeout_ms,
        } => {
            let valid = peer.core.revalidate(from, session_id, timeout_ms);
            l.send(
                from,
                LinkOut::Packet(LeaderPacket::Revalidate { session_id, valid }.to_packet()),
            );
        }
        Action::Commit { zxid } => {
            peer.core.durable(zxid.0);
            if let Some((data, at)) = l.proposed.remove(&zxid.0) {
                peer.committed.push(zxid.0, data);
                // Leader.tryToCommit: QUORUM_ACK_LATENCY, then Leader.commit's COMMIT_COUNT.
                let waited = peer.now_ms().saturating_sub(at);
                crate::server::metrics::observe("quorum_ack_latency", waited);
            }
            crate::server::metrics::count("commit_count", 1);
            l.leader.applied(zxid);
        }
        Action::Activate { zxid, designated } => {
            // Leader.tryToCommit of a reconfig: processReconfig with the designated leader
            // (ourselves while we stay a voter); a leader that is not designated commits
            // nothing more and hands over once its followers have left.
            // A reconfig's commit names its proposal; at establishment it is the last-seen
            // config this leader was given (Leader.lead activates it after NEWLEADER).
            let config = (l.proposed.get(&zxid.0))
                .and_then(|(data, _)| reconfig_config(data))
                .or_else(|| peer.last_seen.clone());
            match config {
                Some(q) => {
                    let me = l.view.me;
                    let text = q.to_text().into_bytes();
                    peer.process_reconfig(port, &text, Some((designated.as_i64(), zxid)), me)
                        .await?;
                    l.view = View::from_config(&peer.cfg)?;
                    l.reconfig_key = None;
                    if designated != me {
                        tracing::info!(
                            "Committing a reconfiguration; this leader is not the designated leader anymore ({} is)",
                            designated.0
                        );
                    }
                }
                None => tracing::error!("activating {:#x}: not a proposed reconfig", zxid.0),
            }
        }
        Action::Touch { sessions } => peer.core.touch_sessions(&sessions),
        Action::SyncConfirmed { token } => peer.core.local_sync_confirmed(token),
        Action::CloseLearner { sid, reason } => {
            // The machine forgot the learner already; what is queued still goes out.
            if let Some(link) = l.link_of(sid) {
                if let Some((h, _, _)) = l.links.remove(&link) {
                    tracing::warn!("closing the link to learner {}: {reason}", sid.0);
                    let _ = h.send(LinkOut::Close);
                }
            }
        }
        Action::GiveUp { reason } => {
            tracing::warn!("leader giving up: {reason}");
            return Ok(None);
        }
    }
    more.clear();
    Ok(Some(more))
}

/// PROPOSAL then COMMIT for each txn of `range` (LearnerHandler.queueCommittedProposals),
/// [`STREAM_SLICE`] txns to a queue place. What a sync queues is bounded by what it reads
/// from: the committed log, or a txn log the sync chose only because it is a fraction
/// (snapshotSizeFactor) of the snapshot a SNAP would send instead.
fn stream(peer: &mut Peer, l: &mut Leading, to: Sid, range: StreamRange) -> Result<(), PeerError> {
    match range.source {
        LogSource::CommittedLog => {
            let txns = peer.committed.range(range.after.0, range.upto.0);
            let mut packets = Vec::with_capacity(2 * STREAM_SLICE);
            for (i, (zxid, data)) in txns.into_iter().enumerate() {
                let zxid = Zxid(zxid);
                packets.push(LeaderPacket::Proposal { zxid, data }.to_packet());
                packets.push(LeaderPacket::Commit { zxid }.to_packet());
                if (i + 1) % STREAM_SLICE == 0 {
                    l.send(to, LinkOut::Packets(std::mem::take(&mut packets)));
                }
            }
            if !packets.is_empty() {
                l.send(to, LinkOut::Packets(packets));
            }
        }
        LogSource::TxnLog => {
            let mut after = range.after.0;
            loop {
                let packets = proposals_for(&peer.log, after, range.upto.0, STREAM_SLICE)?;
                let Some(last) = packets.last().map(|p| p.zxid) else {
                    break;
                };
                l.send(to, LinkOut::Packets(packets));
                after = last;
            }
        }
    }
    Ok(())
}
