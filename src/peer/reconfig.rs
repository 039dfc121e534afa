//! Dynamic reconfiguration on the peer (QuorumPeer.processReconfig and friends): a config
//! seen (proposed) is written to `zoo.cfg.dynamic.next`; a config activated replaces the
//! membership everywhere (the election port, the operations interfaces, `/zookeeper/config`,
//! the files), and may end the role when our role or our leader changes, with a leader
//! designated by the reconfig taken at once instead of an election.

use std::sync::Arc;

use super::{Peer, PeerError};
use crate::config::dynamic::{ConfigFiles, QuorumText};
use crate::config::Config;
use crate::quorum::transport::election::ElectionPort;
use crate::quorum::{LearnerType, Sid, Zxid};

/// Our learner type under `cfg`: a member that is not listed is a non-voting participant
/// (QuorumPeer.updateLearnerType).
fn learner_type(cfg: &Config) -> LearnerType {
    let me = cfg.my_id.and_then(|id| cfg.servers.get(&id));
    if me.is_some_and(|s| s.observer) {
        LearnerType::Observer
    } else {
        LearnerType::Participant
    }
}

impl Peer {
    /// ZKDatabase.initConfigInZKDatabase: `/zookeeper/config` holds the running config,
    /// its mzxid the config's version.
    pub(crate) fn init_config_node(&mut self) {
        let text = QuorumText::of(&self.cfg).to_text();
        self.core.init_config_node(&text, self.cfg.config_version);
    }

    fn config_files(&self) -> Option<ConfigFiles<'_>> {
        self.cfg
            .config_file
            .as_deref()
            .map(|f| ConfigFiles { static_file: f })
    }

    /// QuorumPeer.setLastSeenQuorumVerifier(qv, true): a reconfig was proposed (or a new
    /// leader told us its config). From now on elections need a quorum of it too. Without
    /// `reconfigEnabled` ZooKeeper ignores it.
    pub(crate) async fn seen_config(
        &mut self,
        port: &ElectionPort,
        config: &[u8],
    ) -> Result<(), PeerError> {
        if !self.cfg.reconfig_enabled {
            return Ok(());
        }
        let Some(q) = parse(config) else {
            return Ok(());
        };
        if q.version <= self.last_seen_version {
            return Ok(());
        }
        self.last_seen_version = q.version;
        if let Some(files) = self.config_files() {
            if let Err(e) = files.write_next(&q) {
                tracing::error!("cannot write {}: {e}", files.next_file().display());
            }
        }
        if q.version > self.cfg.config_version {
            self.last_seen = Some(q);
            port.set_last_seen(self.last_seen_config()).await?;
        }
        Ok(())
    }

    /// The last-seen config as a whole configuration, if newer than the running one.
    pub(crate) fn last_seen_config(&self) -> Option<Arc<Config>> {
        (self.last_seen.as_ref())
            .filter(|q| q.version > self.cfg.config_version)
            .map(|q| Arc::new(q.apply_to(&self.cfg)))
    }

    /// QuorumPeerConfig: `zoo.cfg.dynamic.next` holds a config seen but not activated when
    /// the server stopped; it counts in elections after a restart too.
    pub(crate) fn load_last_seen(&mut self) {
        if !self.cfg.reconfig_enabled {
            return;
        }
        let Some(next) = self.config_files().map(|f| f.next_file()) else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(&next) else {
            return;
        };
        match QuorumText::parse(&text) {
            Ok(q) if q.version > self.cfg.config_version => {
                tracing::info!("last seen config {:#x} from {}", q.version, next.display());
                self.last_seen_version = q.version;
                self.last_seen = Some(q);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("ignoring {}: {e}", next.display()),
        }
    }

    /// QuorumPeer.processReconfig: activate `config` if it is newer than ours. Returns
    /// whether this is a major change (our learner type changes, or our leader does): the
    /// role must then end. With a designated leader, the next role is taken under it
    /// without an election ([`Peer::take_designated`]).
    pub(crate) async fn process_reconfig(
        &mut self,
        port: &ElectionPort,
        config: &[u8],
        designated: Option<(i64, Zxid)>,
        leader: Sid,
    ) -> Result<bool, PeerError> {
        if !self.cfg.reconfig_enabled {
            return Ok(false);
        }
        let Some(q) = parse(config) else {
            return Ok(false);
        };
        if q.version <= self.cfg.config_version {
            // Known already (from the election's gossip, say): setQuorumVerifier ignores it.
            return Ok(false);
        }
        let prev = self.cfg.clone();
        let next = Arc::new(q.apply_to(&prev));
        tracing::info!(
            "activating config version {:#x} (was {:#x}): voters {:?}",
            q.version,
            prev.config_version,
            q.voters().collect::<Vec<_>>()
        );
        if let Some(files) = self.config_files() {
            // needEraseClientInfoFromStaticConfig: our line now says where clients go.
            let erase_client = prev
                .my_id
                .and_then(|id| q.servers.get(&id))
                .is_some_and(|s| s.client_addr.is_some());
            if let Err(e) = files.activate(&q, erase_client) {
                tracing::error!("cannot write the dynamic config file: {e}");
            }
        }
        self.last_seen_version = self.last_seen_version.max(q.version);
        if self
            .last_seen
            .as_ref()
            .is_some_and(|l| l.version <= q.version)
        {
            self.last_seen = None;
        }
        self.cfg = next.clone();
        self.core.set_config(next.clone());
        self.init_config_node();
        port.reconfigure(&next).await?;
        let role_change = learner_type(&prev) != learner_type(&next);
        let major = match designated {
            Some((d, zxid)) => {
                // updateVote: a designated leader other than ours means following it; a
                // role change means taking the new role under the same leader.
                let leader_change = d != leader.as_i64();
                if role_change || leader_change {
                    let target = if leader_change { Sid(d as u64) } else { leader };
                    self.designated = Some((target, zxid));
                }
                role_change || leader_change
            }
            None => {
                // No designated leader: a leader that left, or moved, means an election.
                let addr = |c: &Config| {
                    c.servers
                        .get(&leader.0)
                        .filter(|s| !s.observer)
                        .map(|s| (s.host.clone(), s.quorum_port))
                };
                self.designated = None;
                let leader_change = addr(&prev).is_none() || addr(&prev) != addr(&next);
                role_change || leader_change
            }
        };
        if major {
            tracing::info!("changes proposed in reconfig: the role ends");
        }
        Ok(major)
    }

    /// The leader a committed reconfig designated, if the last role ended on one
    /// (QuorumPeer's reconfigFlag): the next role is taken under it without an election.
    pub(crate) fn take_designated(&mut self) -> Option<(Sid, Zxid)> {
        self.designated.take()
    }
}

fn parse(config: &[u8]) -> Option<QuorumText> {
    let parsed = std::str::from_utf8(config)
        .map_err(|e| e.to_string())
        .and_then(QuorumText::parse);
    match parsed {
        Ok(q) => Some(q),
        Err(e) => {
            tracing::error!("ignoring a config that does not parse: {e}");
            None
        }
    }
}
