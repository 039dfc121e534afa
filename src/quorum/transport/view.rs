//! The ensemble as the election port sees it, built from `zoo.cfg`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::limits;
use super::TransportError;
use crate::config::Config;
use crate::quorum::{LearnerType, Majority, Sid};

/// One other member: where to dial it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Host of its election port, without IPv6 brackets.
    pub(crate) host: String,
    /// Its election port.
    pub(crate) port: u16,
}

/// Everything the transport and the election need from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) me: Sid,
    pub(crate) learner_type: LearnerType,
    /// Every other `server.N` (voters and observers), by sid.
    pub(crate) peers: BTreeMap<Sid, Member>,
    /// Where the listener binds: the configured host, or 0.0.0.0 with quorumListenOnAllIPs.
    pub(crate) listen: (String, u16),
    /// What our initial message announces (NetUtils.formatInetAddr of our election address).
    pub(crate) my_address: String,
    pub(crate) qv: Majority,
    /// `QuorumMaj.toString()`: the config every notification carries.
    pub(crate) config_bytes: Vec<u8>,
    /// Java's socketTimeout for the initial message: tickTime * syncLimit.
    pub(crate) handshake_timeout: Duration,
    /// QuorumCnxManager.cnxTO (`zookeeper.cnxTimeout`): how long a dial may take; `None`
    /// for 0, which Java's `Socket.connect` reads as no limit.
    pub(crate) connect_timeout: Option<Duration>,
}

impl View {
    pub(crate) fn from_config(cfg: &Config) -> Result<View, TransportError> {
        let my_id = cfg
            .my_id
            .ok_or_else(|| TransportError::Config("no myid".into()))?;
        // A server a reconfig removed keeps its own addresses (a non-voting participant).
        let me_spec = cfg
            .servers
            .get(&my_id)
            .or(cfg.my_server.as_ref())
            .ok_or_else(|| {
                TransportError::Config(format!("myid {my_id} has no server.{my_id} line"))
            })?;
        let peers = cfg
            .servers
            .values()
            .filter(|s| s.sid != my_id)
            .map(|s| {
                let member = Member {
                    host: s.host.clone(),
                    port: s.election_port,
                };
                (Sid(s.sid), member)
            })
            .collect();
        let voters = cfg
            .servers
            .values()
            .filter(|s| !s.observer)
            .map(|s| Sid(s.sid));
        let observers = cfg
            .servers
            .values()
            .filter(|s| s.observer)
            .map(|s| Sid(s.sid));
        let listen_host = if cfg.quorum_listen_on_all_ips {
            wildcard_for(&me_spec.host).to_string()
        } else {
            me_spec.host.clone()
        };
        let handshake_ms = cfg.tick_time_ms.saturating_mul(u64::from(cfg.sync_limit));
        let handshake_timeout = if handshake_ms == 0 {
            limits::DEFAULT_HANDSHAKE_TIMEOUT
        } else {
            Duration::from_millis(handshake_ms)
        };
        Ok(View {
            me: Sid(my_id),
            learner_type: if cfg.servers.get(&my_id).is_some_and(|s| s.observer) {
                LearnerType::Observer
            } else {
                LearnerType::Participant
            },
            peers,
            listen: (listen_host, me_spec.election_port),
            my_address: host_port(&me_spec.host, me_spec.election_port),
            qv: Majority::new(voters, observers),
            config_bytes: quorum_maj_string(cfg).into_bytes(),
            handshake_timeout,
            connect_timeout: (cfg.cnx_timeout_ms > 0)
                .then(|| Duration::from_millis(u64::from(cfg.cnx_timeout_ms))),
        })
    }
}

/// Where quorumListenOnAllIPs listens (Java binds the wildcard address): every IPv6
/// address for an IPv6 server line, which on Linux takes IPv4 too unless bindv6only, else
/// every IPv4 address.
pub(crate) fn wildcard_for(host: &str) -> &'static str {
    if host.contains(':') {
        "::"
    } else {
        "0.0.0.0"
    }
}

/// `host:port`, with an IPv6 literal in brackets (NetUtils.formatInetAddr).
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `QuorumMaj.toString()` of the config `cfg` runs with: one `server.N=` line per member,
/// then `version=<hex>`. Every notification carries it.
pub(crate) fn quorum_maj_string(cfg: &Config) -> String {
    crate::config::dynamic::QuorumText::of(cfg).to_text()
}
