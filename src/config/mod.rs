//! Server configuration: ZooKeeper's `zoo.cfg` keys, `-Dkey=value` system properties and `myid`.
//!
//! [`Config::load`] reads a `zoo.cfg` (Java Properties syntax) with ZooKeeper 3.8's defaults,
//! or starts from [`Config::default_standalone`] when there is no file, then applies
//! `-Dkey=value` overrides (see [`parse_system_property_args`]), which beat the file.
//! Every modelled key may also be spelled with a `zookeeper.` prefix (the system-property
//! form ZooKeeper gives zoo.cfg keys it does not know), e.g. `zookeeper.4lw.commands.whitelist`.
//! Unknown keys are kept in [`Config::raw`].

mod args;
pub(crate) mod dynamic;
mod error;
mod jaas;
mod kerberos;
mod keys;
mod loader;
mod myid;
mod properties;
#[cfg(test)]
mod quorum_key_tests;
pub(crate) mod quorum_sasl;
pub(crate) mod quorum_tls;
mod sasl;
pub(crate) mod server_line;
#[cfg(test)]
mod tests;
pub(crate) mod tls;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use args::parse_system_property_args;
pub use error::{ConfigError, Origin};
pub use kerberos::{KerberosLogin, KerberosNameRules};
pub use quorum_sasl::QuorumSaslConfig;
pub use quorum_tls::QuorumTlsConfig;
pub use sasl::{client_login, SaslServerConfig};
pub use tls::{ClientAuth, StoreSpec, StoreType, TlsConfig};

/// One `server.N` line, kept for the quorum work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The sid (N).
    pub sid: u64,
    /// Host of the quorum and election ports (an IPv6 address without brackets).
    pub host: String,
    /// Quorum (Zab) port.
    pub quorum_port: u16,
    /// Election port.
    pub election_port: u16,
    /// `observer` role; participant otherwise.
    pub observer: bool,
    /// Client address from the `;[host:]port` part, if given, as `host:port`
    /// (`0.0.0.0:port` when only the port is given; IPv6 hosts in brackets).
    pub client_addr: Option<String>,
}

/// Everything the server reads from its configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// tickTime, ms.
    pub tick_time_ms: u64,
    /// clientPort (0 = any free port; only allowed without a zoo.cfg).
    pub client_port: u16,
    /// clientPortAddress (default 0.0.0.0 in ZooKeeper; 127.0.0.1 for the embedded defaults).
    pub client_port_address: String,
    /// dataDir.
    pub data_dir: PathBuf,
    /// dataLogDir (defaults to dataDir).
    pub data_log_dir: Option<PathBuf>,
    /// maxClientCnxns per client IP; 0 = no limit.
    pub max_client_cnxns: u32,
    /// minSessionTimeout, ms, resolved (default 2 x tickTime).
    pub min_session_timeout_ms: i32,
    /// maxSessionTimeout, ms, resolved (default 20 x tickTime).
    pub max_session_timeout_ms: i32,
    /// zookeeper.extendedTypesEnabled (TTL nodes).
    pub extended_types_enabled: bool,
    /// 4lw.commands.whitelist, lower-case words; contains "*" for all. Always has `srvr`
    /// (as in ZooKeeper), and `isro` when `readonlymode.enabled=true`.
    pub four_letter_whitelist: BTreeSet<String>,
    /// jute.maxbuffer, bytes.
    pub jute_max_buffer: usize,
    /// zookeeper.DigestAuthenticationProvider.superDigest (`super:base64sha1`).
    pub super_digest: Option<String>,
    /// znode.container.checkIntervalMs.
    pub container_check_interval_ms: u64,
    /// znode.container.maxPerMinute.
    pub container_max_per_minute: u64,
    /// znode.container.maxNeverUsedIntervalMs (0 = never reap unused containers).
    pub container_max_never_used_interval_ms: u64,
    /// The `server.N` lines.
    pub servers: BTreeMap<u64, ServerSpec>,
    /// myid, from dataDir/myid when there are server lines.
    pub my_id: Option<u64>,
    /// Every key/value as read (zoo.cfg, then -D overrides), keys spelled as given,
    /// including the modelled ones; the place to find keys not modelled above.
    pub raw: BTreeMap<String, String>,
    /// SASL on the client port: `Some` when `java.security.auth.login.config` names a JAAS
    /// file with the server section (`zookeeper.sasl.serverconfig`, default `Server`).
    pub sasl: Option<SaslServerConfig>,
    /// `authProvider.N=...SASLAuthenticationProvider`: the `sasl` ACL scheme is registered.
    pub sasl_auth_provider: bool,
    /// TLS on the client port (`secureClientPort`, `client.portUnification`, `ssl.*`).
    pub tls: Option<TlsConfig>,
    /// TLS on the quorum ports (`sslQuorum`, `portUnification`, `ssl.quorum.*`).
    pub quorum_tls: Option<QuorumTlsConfig>,
    /// SASL between quorum peers (`quorum.auth.enableSasl` and the JAAS file).
    pub quorum_sasl: Option<QuorumSaslConfig>,
    /// The schemes a connection must be authenticated with before its other requests
    /// (`zookeeper.sessionRequireClientSASLAuth`, `zookeeper.enforce.auth.enabled` and
    /// `.schemes`); empty when nothing is enforced.
    pub enforce_auth_schemes: Vec<String>,
    /// initLimit, ticks (0 = unset; required when distributed).
    pub init_limit: u32,
    /// syncLimit, ticks (0 = unset; required when distributed).
    pub sync_limit: u32,
    /// snapCount: transactions between snapshots (default 100000, at least 2).
    pub snap_count: u64,
    /// autopurge.snapRetainCount (default 3, at least 3).
    pub autopurge_snap_retain_count: u32,
    /// autopurge.purgeInterval, hours (0 = no automatic purge).
    pub autopurge_purge_interval_hours: u32,
    /// admin.enableServer (default true).
    pub admin_enable_server: bool,
    /// admin.serverAddress (default 0.0.0.0; 127.0.0.1 for the embedded defaults).
    pub admin_server_address: String,
    /// admin.serverPort (default 8080).
    pub admin_server_port: u16,
    /// admin.commandURL (default `/commands`).
    pub admin_command_url: String,
    /// metricsProvider.className (default ZooKeeper's DefaultMetricsProvider).
    pub metrics_provider_class_name: String,
    /// metricsProvider.httpHost, if set (the Prometheus provider's default is 0.0.0.0).
    pub metrics_provider_http_host: Option<String>,
    /// metricsProvider.httpPort, if set (the Prometheus provider's default is 7000).
    pub metrics_provider_http_port: Option<u16>,
    /// forceSync: fsync the transaction log (default yes).
    pub force_sync: bool,
    /// preAllocSize, converted from kilobytes to bytes (default 64 MiB).
    pub pre_alloc_size_bytes: u64,
    /// standaloneEnabled (default true).
    pub standalone_enabled: bool,
    /// reconfigEnabled (default false).
    pub reconfig_enabled: bool,
    /// `readonlymode.enabled` (default false): a participant that has looked for a leader
    /// for a while serves reads to clients that asked `canBeReadOnly` (ZooKeeper's
    /// ReadOnlyZooKeeperServer). ZooKeeper reads it only as a system property.
    pub read_only_mode_enabled: bool,
    /// localSessionsEnabled (default false). Only the read-only mode heeds it: ZooKeeper
    /// 3.8's read-only server makes only local sessions, and without them answers every
    /// new session NOTREADONLY. Local sessions are not implemented otherwise.
    pub local_sessions_enabled: bool,
    /// quorumListenOnAllIPs: the election and quorum ports listen on every address
    /// instead of the host of this server's `server.N` line (default false).
    pub quorum_listen_on_all_ips: bool,
    /// `zookeeper.cnxTimeout` (zoo.cfg `cnxTimeout`): how long an election-port dial may
    /// take, ms; 0 = no limit (default 5000, QuorumCnxManager.cnxTO).
    pub cnx_timeout_ms: u32,
    /// `zookeeper.snapshotSizeFactor` (zoo.cfg `snapshotSizeFactor`): a leader syncs a
    /// learner from its txn log when the log to send is at most this times the newest
    /// snapshot's size; negative: never from the txn log (default 0.33, at most 1).
    pub snapshot_size_factor: f64,
    /// `zookeeper.commitLogCount` (zoo.cfg `commitLogCount`): committed txns kept in memory
    /// for syncing learners (default 500, and never fewer).
    pub commit_log_count: usize,
    /// `linearizableSync` (Ferrokeeper's own, default false): the leader confirms its
    /// leadership with a quorum round (a PING every learner answers) that started after a
    /// sync arrived before it answers the sync, so `sync` then a read sees every write
    /// acknowledged before the sync was issued, even after a paused old leader resumes
    /// (ZOOKEEPER-1675). Costs each sync one round trip to the followers.
    pub linearizable_sync: bool,
    /// The zoo.cfg this was read from, if any.
    pub config_file: Option<PathBuf>,
    /// The version of the quorum config the `server.N` lines stand for (QuorumVerifier
    /// version): the hex suffix of a `dynamicConfigFile` named `zoo.cfg.dynamic.<version>`,
    /// else 0. A reconfig, or a leader's first NEWLEADER with `reconfigEnabled`, moves it.
    pub config_version: i64,
    /// This server's own `server.N` line as last seen: it stays when a reconfig removes
    /// the server from the membership (ZooKeeper keeps its addresses and follows on as a
    /// non-voting participant).
    pub my_server: Option<ServerSpec>,
}

/// ZooKeeper's `DefaultMetricsProvider`.
pub const DEFAULT_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

impl Config {
    /// The embedded defaults: standalone on 127.0.0.1:2181 with data in ./data.
    pub fn default_standalone() -> Config {
        Config {
            tick_time_ms: 2000,
            client_port: 2181,
            client_port_address: "127.0.0.1".into(),
            data_dir: PathBuf::from("data"),
            data_log_dir: None,
            max_client_cnxns: 60,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            extended_types_enabled: false,
            four_letter_whitelist: ["srvr".to_string()].into_iter().collect(),
            jute_max_buffer: 0xfffff,
            super_digest: None,
            container_check_interval_ms: 60000,
            container_max_per_minute: 10000,
            container_max_never_used_interval_ms: 0,
            servers: BTreeMap::new(),
            my_id: None,
            raw: BTreeMap::new(),
            sasl: None,
            sasl_auth_provider: false,
            tls: None,
            quorum_tls: None,
            quorum_sasl: None,
            enforce_auth_schemes: Vec::new(),
            init_limit: 0,
            sync_limit: 0,
            snap_count: 100_000,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            admin_enable_server: true,
            admin_server_address: "127.0.0.1".into(),
            admin_server_port: 8080,
            admin_command_url: "/commands".into(),
            metrics_provider_class_name: DEFAULT_METRICS_PROVIDER.into(),
            metrics_provider_http_host: None,
            metrics_provider_http_port: None,
            force_sync: true,
            pre_alloc_size_bytes: 64 * 1024 * 1024,
            standalone_enabled: true,
            reconfig_enabled: false,
            read_only_mode_enabled: false,
            local_sessions_enabled: false,
            quorum_listen_on_all_ips: false,
            cnx_timeout_ms: 5000,
            snapshot_size_factor: values::DEFAULT_SNAPSHOT_SIZE_FACTOR,
            commit_log_count: values::DEFAULT_COMMIT_LOG_COUNT,
            linearizable_sync: false,
            config_file: None,
            config_version: 0,
            my_server: None,
        }
    }

    /// ZooKeeper 3.8's defaults for a zoo.cfg (dataDir and clientPort must come from the file).
    fn zookeeper_defaults(file: &Path) -> Config {
        Config {
            tick_time_ms: 3000,
            client_port: 0,
            client_port_address: "0.0.0.0".into(),
            data_dir: PathBuf::new(),
            admin_server_address: "0.0.0.0".into(),
            config_file: Some(file.to_path_buf()),
            ..Config::default_standalone()
        }
    }

    /// Load the configuration: `path` is a zoo.cfg (ZooKeeper's defaults apply), or `None`
    /// for [`Config::default_standalone`]; `overrides` (`-Dkey=value` pairs) are applied
    /// after the file and win. Reads `<dataDir>/myid` when there are `server.N` lines.
    pub fn load(
        path: Option<&Path>,
        overrides: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let base = path.map_or_else(Config::default_standalone, Config::zookeeper_defaults);
        let mut loader = loader::Loader::new(base, path);
        if let Some(path) = path {
            let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            for e in properties::parse(&properties::decode(&bytes), path)? {
                let origin = Origin::File {
                    path: path.to_path_buf(),
                    line: e.line,
                };
                loader.apply(&e.key, &e.value, origin)?;
            }
        }
        for (key, value) in overrides {
            let origin = Origin::Override { key: key.clone() };
            loader.apply(key.trim(), value.trim(), origin)?;
        }
        let mut cfg = loader.finish()?;
        // The `-D` arguments are the system properties a JAAS file's `${prop}` names.
        let sysprops = overrides
            .iter()
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        cfg.sasl = sasl::resolve(&cfg.raw, &sysprops)?;
        cfg.sasl_auth_provider = sasl::sasl_provider_registered(&cfg.raw);
        let source_name =
            || path.map_or_else(|| "-D overrides".into(), |p| p.display().to_string());
        cfg.tls = tls::resolve(&cfg.raw).map_err(|message| ConfigError::Invalid {
            source_name: source_name(),
            message,
        })?;
        cfg.quorum_tls = quorum_tls::resolve(&cfg.raw).map_err(|message| ConfigError::Invalid {
            source_name: source_name(),
            message,
        })?;
        cfg.quorum_sasl = quorum_sasl::resolve(&cfg.raw, &sysprops, &source_name())?;
        cfg.enforce_auth_schemes = sasl::enforce_auth_schemes(&cfg.raw, cfg.sasl_auth_provider)
            .map_err(|message| ConfigError::Invalid {
                source_name: path
                    .map_or_else(|| "-D overrides".into(), |p| p.display().to_string()),
                message,
            })?;
        Ok(cfg)
    }

    /// Where the transaction log goes: dataLogDir, else dataDir.
    pub fn effective_data_log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// Whether this runs as part of an ensemble rather than standalone: as ZooKeeper decides,
    /// there are server lines and either more than one participant or `standaloneEnabled=false`.
    pub fn is_distributed(&self) -> bool {
        let participants = self.servers.values().filter(|s| !s.observer).count();
        !self.servers.is_empty() && (!self.standalone_enabled || participants > 1)
    }

    /// `syncEnabled` (or `zookeeper.observer.syncEnabled`): whether an observer logs the
    /// txns it is informed of. On by default, as in ZooKeeper.
    pub fn sync_enabled(&self) -> bool {
        ["syncEnabled", "zookeeper.observer.syncEnabled"]
            .iter()
            .filter_map(|k| self.raw.get(*k))
            .next_back()
            .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
    }

    /// `zookeeper.skipACL` (`skipACL` in zoo.cfg, which ZooKeeper turns into that system
    /// property): "yes" skips ACL checks. Only the reconfig op heeds it here.
    pub fn skip_acl(&self) -> bool {
        ["skipACL", "zookeeper.skipACL"]
            .iter()
            .filter_map(|k| self.raw.get(*k))
            .next_back()
            .is_some_and(|v| v.trim() == "yes")
    }

    /// Whether the four-letter word `cmd` may run.
    pub fn four_letter_word_enabled(&self, cmd: &str) -> bool {
        self.four_letter_whitelist.contains("*")
            || self
                .four_letter_whitelist
                .contains(&cmd.to_ascii_lowercase())
    }
}
