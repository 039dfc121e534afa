//! FOLLOWING and OBSERVING: the Zab learner machine over one link to the leader, with the
//! core as its database (Learner.followLeader / Observer.observeLeader).
//!
//! - Sync (DIFF, TRUNC, SNAP) rewrites the core's tree while no client is served; at
//!   UPTODATE (`Serving`) the core starts serving as follower.
//! - Proposals are logged through the group-commit writer and ACKed once durable; COMMITs
//!   are applied by the core, which answers the client whose forwarded request it was.
//! - Client writes, syncs and createSessions come out of the core as REQUEST packets.
//! - PING replies carry the core's touch table.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::log::recover;
use super::{Peer, PeerError, Turn};
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::payload::SessionTouch;
use crate::proto::TxnEntry;
use crate::quorum::transport::election::ElectionPort;
use crate::quorum::transport::links::{connect_leader, LinkEvent, LinkHandle, LinkLimits, LinkOut};
use crate::quorum::transport::TransportError;
use crate::quorum::zab::{ping_reply, Action, Learner, LearnerConfig, Persisted};
use crate::quorum::{LearnerType, Sid, Zxid};
use crate::storage::zk::{read_snapshot_stream, write_snapshot};
use crate::storage::TxnLog;

/// Logged proposals awaiting their COMMIT; beyond this the leader is given up.
const MAX_PENDING: usize = 100_000;
/// Events from the link waiting for the core.
const LINK_EVENTS: usize = 1024;

/// One link's state.
struct Following {
    learner: Learner,
    link: LinkHandle,
    /// Logged txns waiting for their COMMIT, with their bytes for the committed log.
    pending: BTreeMap<Zxid, (Box<TxnEntry>, Bytes)>,
    /// The raw snapshot that came with the last SNAP packet.
    snapshot: Option<Bytes>,
    /// Log entries of this turn, for the writer.
    job: Vec<(i64, Vec<u8>)>,
    /// When following began (FOLLOWER_SYNC_TIME runs until the role serves).
    started: std::time::Instant,
    /// The leader followed.
    leader: Sid,
}

/// Where `leader` takes quorum connections, from `cfg`'s `server.N` lines.
async fn leader_address(
    cfg: &crate::config::Config,
    leader: Sid,
) -> Result<SocketAddr, TransportError> {
    let spec = cfg.servers.get(&leader.0).ok_or_else(|| {
        TransportError::Config(format!(
            "leader {} has no server.{} line",
            leader.0, leader.0
        ))
    })?;
    let hp = crate::quorum::transport::view::host_port(&spec.host, spec.quorum_port);
    let mut addrs = tokio::net::lookup_host(&hp)
        .await
        .map_err(|e| leader_err(&hp, e))?;
    addrs
        .next()
        .ok_or_else(|| leader_err(&hp, "the address resolves to nothing"))
}

fn leader_err(addr: impl std::fmt::Display, reason: impl std::fmt::Display) -> TransportError {
    TransportError::Leader {
        addr: addr.to_string(),
        reason: reason.to_string(),
    }
}

/// Follows `leader` until the link is lost or the machine gives up.
pub(super) async fn follow(
    peer: &mut Peer,
    port: &ElectionPort,
    leader: Sid,
) -> Result<(), PeerError> {
    let cfg = peer.cfg.clone();
    let my_id = cfg
        .my_id
        .ok_or_else(|| TransportError::Config("no myid".into()))?;
    let observer = cfg.servers.get(&my_id).is_some_and(|s| s.observer);
    let learner_cfg = LearnerConfig {
        sid: Sid(my_id),
        learner_type: if observer {
            LearnerType::Observer
        } else {
            LearnerType::Participant
        },
        // LearnerInfo's configVersion: the leader refuses a learner ahead of it.
        config_version: cfg.config_version,
        tick_time_ms: cfg.tick_time_ms,
        init_limit: u64::from(cfg.init_limit),
        sync_limit: u64::from(cfg.sync_limit),
    };
    let addr: SocketAddr = leader_address(&cfg, leader).await?;
    let (events_tx, mut events) = mpsc::channel(LINK_EVENTS);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let limits = LinkLimits::from_config(&cfg);
    let budget = std::time::Duration::from_millis(
        cfg.tick_time_ms.saturating_mul(u64::from(cfg.init_limit)),
    );
    let (tls, auth) = (port.quorum_tls(), port.quorum_auth());
    let link =
        connect_with_retries(budget, addr, &limits, (&tls, &auth), events_tx, &cancel).await?;
    let last = Zxid(peer.core.tree().last_processed_zxid);
    let persisted = Persisted {
        accepted_epoch: peer.epochs.accepted_epoch(),
        current_epoch: peer.epochs.current_epoch(),
        last_logged_zxid: last,
        // The peer drained its writer before the election.
        durable_zxid: last,
    };
    tracing::info!(
        "sid {my_id} {} the leader {} at {addr} from zxid {:#x}",
        if observer { "observing" } else { "following" },
        leader.0,
        last.0
    );
    let mut f = Following {
        learner: Learner::new(learner_cfg, persisted),
        link,
        pending: BTreeMap::new(),
        snapshot: None,
        job: Vec::new(),
        started: std::time::Instant::now(),
        leader,
    };
    let state = if observer { "observing" } else { "following" };
    peer.report(&format!("{state} - discovery"), Some(leader.0), None);
    let now = peer.now_ms();
    let out = f.learner.start(now).map_err(zab_err)?;
    if perform(peer, port, &mut f, out).await? {
        return Ok(());
    }
    loop {
        let wake = f.learner.wake_at_ms();
        // Past the backlog bound the leader's stream waits in the socket (TCP pushes back)
        // until the writer catches up.
        let backlogged = peer.log_backlogged();
        let link = async {
            if backlogged {
                std::future::pending().await
            } else {
                events.recv().await
            }
        };
        let got = peer.turn(link, wake).await?;
        let now = peer.now_ms();
        let out = match got {
            Turn::Clients => Vec::new(),
            Turn::Durable(z) => f.learner.durable(Zxid(z)).map_err(zab_err)?,
            Turn::Tick => f.learner.tick(now),
            Turn::Role(None) => return Ok(()),
            Turn::Role(Some(ev)) => match ev {
                LinkEvent::Packet { packet, .. } => {
                    note_sync_kind(&packet);
                    f.learner.on_packet(now, &packet).map_err(zab_err)?
                }
                LinkEvent::Snapshot { packet, bytes, .. } => {
                    note_sync_kind(&packet);
                    f.snapshot = Some(bytes);
                    f.learner.on_packet(now, &packet).map_err(zab_err)?
                }
                LinkEvent::Closed { reason, .. } => {
                    tracing::warn!("the link to the leader closed: {reason}");
                    return Ok(());
                }
                LinkEvent::Opened { .. } => Vec::new(),
            },
        };
        if perform(peer, port, &mut f, out).await? {
            return Ok(());
        }
    }
}

/// Learner.connectToLeader: up to 5 tries, 100 ms apart
/// (`zookeeper.leaderConnectDelayDuringRetryMs`), within initLimit ticks: a leader just
/// elected may not listen yet when its followers decide.
async fn connect_with_retries(
    budget: std::time::Duration,
    addr: SocketAddr,
    limits: &LinkLimits,
    (tls, auth): (
        &crate::quorum::transport::tls::QuorumTls,
        &crate::quorum::transport::sasl::QuorumAuth,
    ),
    events: mpsc::Sender<LinkEvent>,
    cancel: &CancellationToken,
) -> Result<LinkHandle, PeerError> {
    let started = tokio::time::Instant::now();
    let mut tries = 0;
    loop {
        match connect_leader(addr, limits, tls, auth, events.clone(), cancel).await {
            Ok(link) => return Ok(link),
            Err(e) => {
                tries += 1;
                if tries >= 5 || started.elapsed() >= budget {
                    return Err(e.into());
                }
                tracing::warn!("cannot connect to the leader at {addr} (try {tries}): {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Performs the machine's actions in order, then sends what the core forwards and lets
/// the core's output go. `true` when the role ends.
async fn perform(
    peer: &mut Peer,
    port: &ElectionPort,
    f: &mut Following,
    actions: Vec<Action>,
) -> Result<bool, PeerError> {
    let mut queue: std::collections::VecDeque<Action> = actions.into();
    let mut end = false;
    while let Some(action) = queue.pop_front() {
        match action {
            Action::Send(p) => send(f, p)?,
            Action::ReplyPing { zxid, authinfo } => {
                let touches: Vec<SessionTouch> = peer
                    .core
                    .take_touched()
                    .into_iter()
                    .map(|(session_id, timeout_ms)| SessionTouch {
                        session_id,
                        timeout_ms,
                    })
                    .collect();
                send(f, ping_reply(zxid, authinfo, &touches))?;
            }
            Action::PersistAcceptedEpoch(e) => peer.epochs.set_accepted_epoch(e)?,
            Action::PersistCurrentEpoch(e) => peer.epochs.set_current_epoch(e)?,
            Action::Truncate { zxid } => truncate(peer, f, zxid).await?,
            Action::LoadSnapshot { zxid } => {
                load_snapshot(peer, f, zxid)?;
                let now = peer.now_ms();
                queue.extend(f.learner.snapshot_loaded(now).map_err(zab_err)?);
            }
            Action::TakeSnapshot { sync } => {
                peer.submit(std::mem::take(&mut f.job))?;
                peer.drain_writer().await?;
                take_snapshot(peer, sync)?;
            }
            Action::Apply { entry } => {
                peer.core.apply_from_leader(&entry);
                let bytes = entry.to_bytes().freeze();
                peer.committed.push(entry.header.zxid, bytes);
            }
            Action::Log { zxid, entry, raw } => {
                if peer.core.serving() {
                    // Follower.processPacket on a PROPOSAL: LEARNER_PROPOSAL_RECEIVED_COUNT
                    // and PROPOSAL_LATENCY (since the txn's time on the leader).
                    use crate::server::metrics;
                    metrics::count("learner_proposal_received_count", 1);
                    let wall = crate::server::clock::wall_ms();
                    let ms = u64::try_from(wall - entry.header.time).unwrap_or(0);
                    metrics::observe("proposal_latency", ms);
                }
                if zxid.counter() != 0 {
                    if f.pending.len() >= MAX_PENDING {
                        return Err(TransportError::Limit(format!(
                            "{} proposals await their COMMIT",
                            f.pending.len()
                        ))
                        .into());
                    }
                    f.pending
                        .insert(zxid, (entry, Bytes::copy_from_slice(&raw)));
                }
                f.job.push((zxid.0, raw));
            }
            Action::Commit { zxid } => match f.pending.remove(&zxid) {
                Some((entry, raw)) => {
                    if peer.core.serving() {
                        crate::server::metrics::count("learner_commit_received_count", 1);
                    }
                    peer.committed.push(zxid.0, raw);
                    commit(peer, *entry)
                }
                None => tracing::error!("COMMIT {:#x}: the txn is not pending", zxid.0),
            },
            Action::CommitInformed { zxid, entry, raw } => {
                peer.committed.push(zxid.0, Bytes::copy_from_slice(&raw));
                if peer.cfg.sync_enabled() {
                    f.job.push((zxid.0, raw));
                }
                commit(peer, *entry);
            }
            Action::Serving { epoch } => {
                let state = match peer.core.server_state() {
                    "observer" => "observing",
                    _ => "following",
                };
                let leader = peer.core.quorum.as_ref().and_then(|q| q.leader);
                // Set before the role starts so the state says which role serves.
                peer.core.start_following();
                let synced = u64::try_from(f.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                if state == "observing" {
                    crate::server::metrics::observe("observer_sync_time", synced);
                } else {
                    crate::server::metrics::observe("follower_sync_time", synced);
                }
                peer.report(&format!("{state} - broadcast"), leader, None);
                tracing::info!(
                    "serving as {} in epoch {epoch} at zxid {:#x}",
                    if state == "observing" {
                        "observer"
                    } else {
                        "follower"
                    },
                    peer.core.tree().last_processed_zxid
                );
                if let Err(e) = port.update_election_vote(epoch).await {
                    tracing::warn!("cannot update the election vote: {e}");
                }
            }
            Action::SeenConfig { config } => peer.seen_config(port, &config).await?,
            Action::Activate { config, designated } => {
                if peer
                    .process_reconfig(port, &config, designated, f.leader)
                    .await?
                {
                    end = true;
                    break;
                }
            }
            Action::SyncDone => peer.core.sync_done(),
            Action::Revalidated { session_id, valid } => peer.core.revalidated(session_id, valid),
            Action::Warn(w) => tracing::warn!("from the leader: {w:?}"),
            Action::GoLooking { reason } => {
                tracing::warn!("leaving the leader: {reason}");
                end = true;
                break;
            }
        }
    }
    peer.submit(std::mem::take(&mut f.job))?;
    for p in peer.core.take_to_leader() {
        send(f, p)?;
    }
    peer.finish_turn();
    Ok(end)
}

/// Says how the leader syncs us (operators, and the ensemble suite, read it).
fn note_sync_kind(p: &QuorumPacket) {
    use crate::proto::quorum::packet_type as pt;
    let kind = match p.r#type {
        pt::DIFF => "Diff",
        pt::SNAP => "Snap",
        pt::TRUNC => "Trunc",
        _ => return,
    };
    tracing::info!("syncing with the leader by {kind} at {:#x}", p.zxid);
}

fn commit(peer: &mut Peer, entry: TxnEntry) {
    if peer.core.serving() {
        peer.core.commit_from_leader(entry);
    } else {
        peer.core.apply_from_leader(&entry);
    }
}

fn send(f: &Following, p: QuorumPacket) -> Result<(), PeerError> {
    f.link
        .send(LinkOut::Packet(p))
        .map_err(|e| PeerError::Transport(TransportError::Limit(e.to_string())))
}

/// TRUNC: cut the log after `zxid` and rebuild the tree from what is left
/// (ZKDatabase.truncateLog).
async fn truncate(peer: &mut Peer, f: &mut Following, zxid: Zxid) -> Result<(), PeerError> {
    tracing::warn!("truncating the log after {:#x} for the leader", zxid.0);
    peer.submit(std::mem::take(&mut f.job))?;
    peer.drain_writer().await?;
    peer.log.truncate_after(zxid.0)?;
    let r = recover(&peer.log, peer.cfg.extended_types_enabled)?;
    peer.core.reset_state(r.tree, r.sessions);
    peer.core.set_last_processed(zxid.0);
    peer.init_config_node();
    peer.submitted = peer.submitted.min(zxid.0);
    peer.durable = peer.durable.min(zxid.0);
    peer.committed = super::CommittedLog::load(&peer.log, peer.cfg.commit_log_count)?;
    f.pending.clear();
    Ok(())
}

/// SNAP: the tree is replaced by the leader's snapshot, which came with the packet.
fn load_snapshot(peer: &mut Peer, f: &mut Following, zxid: Zxid) -> Result<(), PeerError> {
    let bytes = f
        .snapshot
        .take()
        .ok_or_else(|| TransportError::Snapshot("SNAP without the snapshot after it".into()))?;
    let streamed = read_snapshot_stream(&bytes, peer.cfg.extended_types_enabled)
        .map_err(|e| TransportError::Snapshot(e.to_string()))?;
    tracing::info!(
        "loaded the leader's snapshot at {:#x}: {} bytes, {} nodes, {} sessions",
        zxid.0,
        bytes.len(),
        streamed.tree.node_count(),
        streamed.sessions.len()
    );
    peer.core.reset_state(streamed.tree, streamed.sessions);
    peer.core.set_last_processed(zxid.0);
    peer.init_config_node();
    peer.committed.clear();
    f.pending.clear();
    // A log that runs past the snapshot (txns this leader never committed) would refuse
    // the txns that now follow it: store the snapshot, which lets the log be cut back.
    if peer.log.last_zxid() > zxid.0 {
        tracing::warn!(
            "the log runs to {:#x}, past the leader's snapshot at {:#x}: cutting it back",
            peer.log.last_zxid(),
            zxid.0
        );
        take_snapshot(peer, true)?;
        peer.log.truncate_after(zxid.0)?;
        peer.submitted = peer.submitted.min(zxid.0);
        peer.durable = peer.durable.min(zxid.0);
    }
    Ok(())
}

/// ZooKeeperServer.takeSnapshot: the tree stored with the log, whose history before it a
/// SNAP or TRUNC left incomplete.
fn take_snapshot(peer: &mut Peer, sync: bool) -> Result<(), PeerError> {
    let zxid = peer.core.tree().last_processed_zxid;
    let sessions = peer.core.session_list();
    let mut bytes = Vec::new();
    write_snapshot(peer.core.tree(), &sessions, zxid, &mut bytes);
    peer.log.put_snapshot(zxid, &bytes)?;
    tracing::info!(
        "snapshot at {zxid:#x} stored ({} bytes, sync {sync})",
        bytes.len()
    );
    Ok(())
}

fn zab_err(e: crate::quorum::zab::ZabError) -> PeerError {
    if e.is_fatal() {
        tracing::error!("{e}: a Java server would exit here");
    }
    PeerError::Transport(TransportError::Zab(e))
}
