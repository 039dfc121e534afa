//! FastLeaderElection over the election port: the task that owns the pure
//! [`Election`] machine and does its IO through QuorumCnxManager.
//!
//! [`run_election`] is what the quorum peer calls when it turns LOOKING at boot: it binds
//! the election port, runs the election and returns the decision with the
//! [`ElectionPort`] that keeps running. The port must stay alive for the peer's life: once
//! decided it keeps answering LOOKING peers with our vote (WorkerReceiver's reply when not
//! LOOKING), and [`ElectionPort::look_again`] starts the next election when a role ends.
//! Dropping the port closes the listener and every connection.
//!
//! The driver loop, one task:
//! - a received frame is decoded (a malformed payload is logged and dropped, as Java does)
//!   and fed to [`Election::on_notification`] with the connection's sid;
//! - at [`Output::wake_at_ms`] (a `sleep_until` rather than a fixed interval: the machine
//!   says when it next needs time) it calls [`Election::tick`] with haveDelivered from
//!   the connection manager; `now_ms` counts from the driver's start on tokio's monotonic
//!   clock;
//! - actions run in order: `Send` to a peer replaces that peer's queued message, `Send` to
//!   ourselves goes straight back into the machine (QuorumCnxManager.toSend's loopback),
//!   `ConnectAll` dials the missing peers, `Decided` is published on a `watch` channel.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::cnx::{CnxManager, Received};
use super::sasl::QuorumAuth;
use super::tls::QuorumTls;
use super::view::View;
use super::{frames, limits, TransportError};
use crate::config::dynamic::QuorumText;
use crate::config::Config;
use crate::quorum::election::{Action, Election, Notification, Output, Timing, Vote};
use crate::quorum::{QuorumVerifier, ServerState, Sid, Zxid};

/// The outcome of an election (the `Decided` action), as the quorum peer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    /// The elected leader.
    pub leader: Sid,
    /// This server's role under it: LEADING, FOLLOWING or OBSERVING.
    pub state: ServerState,
    /// The final vote, now QuorumPeer.currentVote.
    pub vote: Vote,
}

/// Requests from the peer to its running election driver.
#[derive(Debug)]
enum Command {
    /// The role ended: elect again (QuorumPeer back to LOOKING).
    LookAgain { last_zxid: Zxid, current_epoch: i64 },
    /// Zab settled the new epoch (QuorumPeer.updateElectionVote).
    UpdateElectionVote(i64),
    /// A reconfig was activated: the new configuration.
    Reconfigure(Arc<Config>),
    /// A reconfig designated this leader: take the role without an election.
    Designated { leader: Sid, zxid: Zxid },
    /// A newer config was seen (or none is pending any more).
    LastSeen(Option<Arc<Config>>),
}

/// A running election port: the listener, the connections and the driver task.
#[derive(Debug)]
pub struct ElectionPort {
    me: Sid,
    local_addr: SocketAddr,
    /// The driver's election round (how many LookAgain it has taken) and its decision.
    decided: watch::Receiver<(u64, Option<Decided>)>,
    /// The round whose decision [`ElectionPort::decided`] waits for: a decision of an
    /// earlier round is stale once `look_again` has been called.
    round: u64,
    heard: watch::Receiver<BTreeMap<Sid, Notification>>,
    newer_config: watch::Receiver<Option<Vec<u8>>>,
    commands: mpsc::Sender<Command>,
    cnx: Arc<CnxManager>,
    /// The quorum ports' TLS, which the Zab links use too.
    tls: Arc<QuorumTls>,
    auth: Arc<QuorumAuth>,
    task: tokio::task::JoinHandle<()>,
    _stop: DropGuard,
}

/// Bind the election port of `cfg`'s `myid`, run FastLeaderElection from our last logged
/// zxid and current epoch, and return the decision with the port, which keeps answering
/// LOOKING peers until dropped.
pub async fn run_election(
    cfg: &Config,
    last_zxid: Zxid,
    current_epoch: i64,
) -> Result<(Decided, ElectionPort), TransportError> {
    let mut port = ElectionPort::start(cfg, last_zxid, current_epoch, Timing::default()).await?;
    let decided = port.decided().await?;
    Ok((decided, port))
}

impl ElectionPort {
    /// Bind, connect to the other members and start LOOKING; the decision arrives on
    /// [`ElectionPort::decided`].
    pub async fn start(
        cfg: &Config,
        last_zxid: Zxid,
        current_epoch: i64,
        timing: Timing,
    ) -> Result<ElectionPort, TransportError> {
        Self::start_with_last_seen(cfg, None, last_zxid, current_epoch, timing).await
    }

    /// [`ElectionPort::start`] for a server that has seen a newer config than the one it
    /// runs (zoo.cfg.dynamic.next): its elections need a quorum of that one too from the
    /// first round.
    pub async fn start_with_last_seen(
        cfg: &Config,
        last_seen: Option<Arc<Config>>,
        last_zxid: Zxid,
        current_epoch: i64,
        timing: Timing,
    ) -> Result<ElectionPort, TransportError> {
        let view = View::from_config(cfg)?;
        let cancel = CancellationToken::new();
        let (recv_tx, recv_rx) = mpsc::channel(limits::RECV_CAPACITY);
        let tls = QuorumTls::new(cfg.quorum_tls.as_ref())
            .map_err(|e| TransportError::Config(format!("quorum TLS: {e}")))?;
        // Java's learner socket timeout, which bounds each of its auth reads.
        let auth_timeout = std::time::Duration::from_millis(
            cfg.tick_time_ms
                .saturating_mul(u64::from(cfg.init_limit.max(1))),
        );
        let auth = QuorumAuth::new(cfg.quorum_sasl.as_ref(), auth_timeout);
        let (cnx, local_addr) =
            CnxManager::start(&view, tls.clone(), auth.clone(), recv_tx, cancel.clone()).await?;
        let election = Election::new(
            view.me,
            view.learner_type,
            view.qv.clone(),
            view.config_bytes.clone(),
            last_zxid,
            current_epoch,
        )
        .with_timing(timing);
        let (decided_tx, decided) = watch::channel((0, None));
        let (heard_tx, heard) = watch::channel(BTreeMap::new());
        let (commands, commands_rx) = mpsc::channel(limits::COMMAND_CAPACITY);
        let (newer_tx, newer_config) = watch::channel(None);
        let mut driver = Driver {
            cfg: Arc::new(cfg.clone()),
            last_seen: None,
            newer_config: newer_tx,
            looking_from: (last_zxid, current_epoch),
            me: view.me,
            election,
            cnx: cnx.clone(),
            recv: recv_rx,
            commands: commands_rx,
            decided: decided_tx,
            heard: heard_tx,
            round: 0,
            epoch: Instant::now(),
            wake_at_ms: None,
            cancel: cancel.clone(),
        };
        if last_seen.is_some() {
            driver.set_last_seen(last_seen);
        }
        cnx.connect_all();
        let task = tokio::spawn(driver.run(last_zxid, current_epoch));
        Ok(ElectionPort {
            me: view.me,
            local_addr,
            decided,
            round: 0,
            heard,
            newer_config,
            commands,
            cnx,
            tls,
            auth,
            task,
            _stop: cancel.drop_guard(),
        })
    }

    /// This server's sid.
    pub fn sid(&self) -> Sid {
        self.me
    }

    /// The quorum ports' TLS (the leader's learner port and the learner's dial use it).
    pub(crate) fn quorum_tls(&self) -> Arc<QuorumTls> {
        self.tls.clone()
    }

    /// The quorum's SASL (the leader's learner port and the learner's dial use it).
    pub(crate) fn quorum_auth(&self) -> Arc<QuorumAuth> {
        self.auth.clone()
    }

    /// Where the election port listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the election connection to `sid` is up (QuorumCnxManager.connectedToPeer).
    pub fn connected_to(&self, sid: Sid) -> bool {
        self.cnx.connected(sid)
    }

    /// Wait for the current election's decision.
    pub async fn decided(&mut self) -> Result<Decided, TransportError> {
        let round = self.round;
        let d = self
            .decided
            .wait_for(|(r, d)| *r == round && d.is_some())
            .await
            .map_err(|_| TransportError::Stopped)?;
        d.1.ok_or(TransportError::Stopped)
    }

    /// The latest notification received from each peer (for diagnostics and tests: whom
    /// the others vote for).
    pub fn heard(&self) -> watch::Receiver<BTreeMap<Sid, Notification>> {
        self.heard.clone()
    }

    /// Start a new election (a role ended): the decision is cleared until it is made.
    pub async fn look_again(
        &mut self,
        last_zxid: Zxid,
        current_epoch: i64,
    ) -> Result<(), TransportError> {
        self.command(Command::LookAgain {
            last_zxid,
            current_epoch,
        })
        .await?;
        // Commands are taken in order: the driver's round after this one is ours.
        self.round += 1;
        Ok(())
    }

    /// A reconfig was activated (QuorumPeer.restartLeaderElection): the election counts
    /// and connects by the membership of `cfg` from now on.
    pub async fn reconfigure(&self, cfg: &Arc<Config>) -> Result<(), TransportError> {
        View::from_config(cfg)?;
        self.command(Command::Reconfigure(cfg.clone())).await
    }

    /// A newer config was seen (a reconfig proposed or logged; `None`: none pending):
    /// elections need a quorum of it as well as of the current one, and its members are
    /// connected (QuorumPeer.setLastSeenQuorumVerifier, connectNewPeers).
    pub async fn set_last_seen(&self, cfg: Option<Arc<Config>>) -> Result<(), TransportError> {
        if let Some(c) = &cfg {
            View::from_config(c)?;
        }
        self.command(Command::LastSeen(cfg)).await
    }

    /// A newer config the election learned from a notification while LOOKING (and
    /// switched to), for the peer to activate; taken once.
    pub fn take_newer_config(&mut self) -> Option<Vec<u8>> {
        if self.newer_config.has_changed().unwrap_or(false) {
            self.newer_config.borrow_and_update().clone()
        } else {
            None
        }
    }

    /// A reconfig designated `leader` (QuorumPeer.updateVote and updateServerState): the
    /// port answers with that vote, and the peer takes its role under it at once. The
    /// state taken is returned by [`ElectionPort::decided`] for a new round.
    pub async fn adopt_designated(
        &mut self,
        leader: Sid,
        zxid: Zxid,
    ) -> Result<(), TransportError> {
        self.command(Command::Designated { leader, zxid }).await?;
        self.round += 1;
        Ok(())
    }

    /// The new epoch is settled: answer late joiners with it (ZOOKEEPER-1732).
    pub async fn update_election_vote(&self, new_epoch: i64) -> Result<(), TransportError> {
        self.command(Command::UpdateElectionVote(new_epoch)).await
    }

    async fn command(&self, c: Command) -> Result<(), TransportError> {
        self.commands
            .send(c)
            .await
            .map_err(|_| TransportError::Stopped)
    }

    /// Close the listener and every connection, and wait for the driver to end.
    pub async fn shutdown(self) {
        let ElectionPort { task, _stop, .. } = self;
        drop(_stop);
        let _ = task.await;
    }
}

struct Driver {
    /// The configuration the election runs with (a reconfig replaces it).
    cfg: Arc<Config>,
    /// A newer config seen but not activated: its voters count too.
    last_seen: Option<Arc<Config>>,
    /// A newer config learned while LOOKING, for the peer to activate.
    newer_config: watch::Sender<Option<Vec<u8>>>,
    /// The last zxid and current epoch the current round started from.
    looking_from: (Zxid, i64),
    me: Sid,
    election: Election,
    cnx: Arc<CnxManager>,
    recv: mpsc::Receiver<Received>,
    commands: mpsc::Receiver<Command>,
    decided: watch::Sender<(u64, Option<Decided>)>,
    heard: watch::Sender<BTreeMap<Sid, Notification>>,
    /// LookAgain commands taken.
    round: u64,
    /// `now_ms` is measured from here.
    epoch: Instant,
    wake_at_ms: Option<u64>,
    cancel: CancellationToken,
}

impl Driver {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(mut self, last_zxid: Zxid, current_epoch: i64) {
        let out = self.election.start(self.now_ms(), last_zxid, current_epoch);
        self.execute(out);
        loop {
            let wake = self
                .wake_at_ms
                .map(|ms| self.epoch + Duration::from_millis(ms));
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                r = self.recv.recv() => match r {
                    Some(r) => self.on_frame(r),
                    None => break,
                },
                c = self.commands.recv() => match c {
                    Some(c) => self.on_command(c),
                    None => break,
                },
                _ = sleep_until(wake) => {
                    let out = self.election.tick(self.now_ms(), self.cnx.have_delivered());
                    self.execute(out);
                }
            }
        }
        tracing::info!("election driver of sid {} stopped", self.me.0);
    }

    fn on_frame(&mut self, r: Received) {
        let n = match frames::decode(r.from, &r.frame) {
            Ok(Some(n)) => n,
            Ok(None) => {
                tracing::debug!(
                    "skipping a notification from sid {} with an unknown state",
                    r.from.0
                );
                return;
            }
            Err(e) => {
                tracing::warn!(
                    "dropping a malformed notification from sid {}: {e}",
                    r.from.0
                );
                return;
            }
        };
        tracing::debug!(
            "Notification from sid {}: leader {}, zxid {:#x}, round {:#x}, state {:?}, peer epoch {:#x}",
            n.sid.0,
            n.leader.as_i64(),
            n.zxid.0,
            n.election_epoch,
            n.state,
            n.peer_epoch
        );
        self.heard.send_modify(|m| {
            m.insert(r.from, n.clone());
        });
        if self.adopt_newer_config(&n) {
            return;
        }
        let out = self.election.on_notification(r.from, n, self.now_ms());
        self.execute(out);
    }

    /// WorkerReceiver: a LOOKING server that hears of a newer config (a reconfig it missed,
    /// or the ensemble's config when it joins) switches to it and restarts the election
    /// (processReconfig, then shuttingDownLE); the notification itself is dropped.
    fn adopt_newer_config(&mut self, n: &Notification) -> bool {
        if !self.cfg.reconfig_enabled || self.election.state() != ServerState::Looking {
            return false;
        }
        let Some(q) = n
            .config
            .as_deref()
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|t| QuorumText::parse(t).ok())
        else {
            return false;
        };
        if q.version <= self.cfg.config_version {
            return false;
        }
        tracing::info!(
            "{} Received version: {:x} my version: {:x}; restarting leader election",
            self.me.0,
            q.version,
            self.cfg.config_version
        );
        let next = Arc::new(q.apply_to(&self.cfg));
        if let Err(e) = self.switch_config(next) {
            tracing::warn!("cannot take the config of sid {}: {e}", n.sid.0);
            return false;
        }
        self.newer_config
            .send_replace(Some(q.to_text().into_bytes()));
        let (last_zxid, epoch) = self.looking_from;
        let out = self.election.start(self.now_ms(), last_zxid, epoch);
        self.execute(out);
        true
    }

    /// Count, connect and answer by the membership of `cfg` from now on.
    fn switch_config(&mut self, cfg: Arc<Config>) -> Result<(), TransportError> {
        let view = View::from_config(&cfg)?;
        tracing::info!(
            "sid {}: election view now {:?} (voters {:?})",
            self.me.0,
            view.peers.keys().map(|s| s.0).collect::<Vec<_>>(),
            view.qv
                .voting_members()
                .iter()
                .map(|s| s.0)
                .collect::<Vec<_>>()
        );
        self.election
            .reconfigure(view.learner_type, view.qv, view.config_bytes);
        self.cfg = cfg;
        // An activated config at least as new as the last seen one ends it.
        let pending = self.last_seen.take();
        self.set_last_seen(pending);
        Ok(())
    }

    /// The last-seen config, if newer than the current one: its voters count, its members
    /// are connected.
    fn set_last_seen(&mut self, last_seen: Option<Arc<Config>>) {
        let newer = last_seen.filter(|c| c.config_version > self.cfg.config_version);
        let next_view = newer.as_ref().and_then(|c| View::from_config(c).ok());
        let mut peers = View::from_config(&self.cfg)
            .map(|v| v.peers)
            .unwrap_or_default();
        if let (Some(v), Some(c)) = (&next_view, &newer) {
            for (sid, m) in &v.peers {
                peers.entry(*sid).or_insert_with(|| m.clone());
            }
            tracing::info!(
                "sid {}: last seen config {:#x}: its voters {:?} must agree too",
                self.me.0,
                c.config_version,
                v.qv.voting_members()
                    .iter()
                    .map(|s| s.0)
                    .collect::<Vec<_>>()
            );
        }
        self.cnx.set_peers(&peers);
        self.election.set_last_seen(next_view.map(|v| v.qv));
        self.last_seen = newer;
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::LookAgain {
                last_zxid,
                current_epoch,
            } => {
                self.round += 1;
                self.looking_from = (last_zxid, current_epoch);
                self.decided.send_replace((self.round, None));
                let out = self.election.start(self.now_ms(), last_zxid, current_epoch);
                self.execute(out);
            }
            Command::UpdateElectionVote(epoch) => self.election.update_election_vote(epoch),
            Command::Reconfigure(cfg) => {
                if cfg.config_version > self.cfg.config_version {
                    if let Err(e) = self.switch_config(cfg) {
                        tracing::warn!("cannot reconfigure the election: {e}");
                    }
                }
            }
            Command::LastSeen(cfg) => self.set_last_seen(cfg),
            Command::Designated { leader, zxid } => {
                self.round += 1;
                let state = self.election.adopt_designated(leader, zxid);
                let vote = self.election.current_vote();
                tracing::info!(
                    "sid {}: designated leader {}: {state:?}",
                    self.me.0,
                    leader.0
                );
                let decided = Decided {
                    leader,
                    state,
                    vote,
                };
                self.decided.send_replace((self.round, Some(decided)));
            }
        }
    }

    fn execute(&mut self, out: Output) {
        self.wake_at_ms = out.wake_at_ms;
        let mut pending: VecDeque<Action> = out.actions.into();
        while let Some(action) = pending.pop_front() {
            match action {
                Action::Send { to, msg } if to == self.me => {
                    // QuorumCnxManager.toSend: a message to ourselves is received at once.
                    let n = msg.into_notification(self.me);
                    let out = self.election.on_notification(self.me, n, self.now_ms());
                    self.wake_at_ms = out.wake_at_ms;
                    pending.extend(out.actions);
                }
                Action::Send { to, msg } => match frames::encode(&msg) {
                    Ok(frame) => self.cnx.to_send(to, frame),
                    Err(e) => tracing::error!("cannot encode a notification for sid {}: {e}", to.0),
                },
                Action::ConnectAll => self.cnx.connect_all(),
                Action::Decided {
                    leader,
                    state,
                    vote,
                } => {
                    tracing::info!(
                        "sid {} decided: {state:?}, leader {}, zxid {:#x}, peer epoch {:#x}",
                        self.me.0,
                        leader.0,
                        vote.zxid.0,
                        vote.peer_epoch
                    );
                    let decided = Decided {
                        leader,
                        state,
                        vote,
                    };
                    self.decided.send_replace((self.round, Some(decided)));
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
