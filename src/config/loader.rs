//! Applying key/value pairs to a [`Config`] and the checks ZooKeeper makes afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Origin};
use super::keys::{self, Key};
use super::{myid, properties, server_line, values, Config};

/// ZooKeeper's minimum for `autopurge.snapRetainCount`.
const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// ZooKeeper's minimum for `snapCount`.
const MIN_SNAP_COUNT: u64 = 2;
/// The largest server id usable with extended types (`EphemeralType.MAX_EXTENDED_SERVER_ID`).
const MAX_EXTENDED_SERVER_ID: u64 = 0xfe;

/// A config under construction.
pub struct Loader {
    cfg: Config,
    /// True when reading a zoo.cfg (ZooKeeper's rules), false for the embedded defaults.
    file_mode: bool,
    /// Names the source in errors not tied to one line.
    source_name: String,
    min_session_timeout: i32,
    max_session_timeout: i32,
    data_dir_set: bool,
    client_port_address_set: bool,
    whitelist: Option<BTreeSet<String>>,
    server_origins: BTreeMap<u64, Origin>,
    dynamic_config_file: Option<(PathBuf, Origin)>,
    read_only_mode: bool,
    /// peerType, if given: `true` for observer. Only compared with the server line.
    peer_type_observer: Option<bool>,
}

impl Loader {
    /// Start from `cfg`; `file` is the zoo.cfg being read, if any.
    pub fn new(cfg: Config, file: Option<&Path>) -> Loader {
        Loader {
            min_session_timeout: -1,
            max_session_timeout: -1,
            cfg,
            file_mode: file.is_some(),
            source_name: file.map_or_else(|| "-D overrides".into(), |p| p.display().to_string()),
            data_dir_set: false,
            client_port_address_set: false,
            whitelist: None,
            server_origins: BTreeMap::new(),
            dynamic_config_file: None,
            read_only_mode: false,
            peer_type_observer: None,
        }
    }

    fn invalid(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            source_name: self.source_name.clone(),
            message: message.into(),
        }
    }

    /// Apply one key/value pair (value already trimmed). Later pairs win.
    pub fn apply(&mut self, key: &str, value: &str, origin: Origin) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::InvalidValue {
            origin: origin.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        self.cfg.raw.insert(key.to_string(), value.to_string());
        if let Some(n) = keys::server_suffix(key) {
            let sid = server_line::parse_sid(n).map_err(bad)?;
            let spec = server_line::parse(sid, value).map_err(bad)?;
            self.cfg.servers.insert(sid, spec);
            self.server_origins.insert(sid, origin);
            return Ok(());
        }
        let Some(k) = keys::lookup(key) else {
            if key.starts_with("group.") || key.starts_with("weight.") {
                tracing::debug!(
                    "{origin}: {key} kept as given (hierarchical quorums are not modelled)"
                );
            } else if super::quorum_tls::is_quorum_tls_key(key) {
                tracing::debug!("{origin}: {key} kept for the quorum's TLS");
            } else if super::quorum_sasl::is_quorum_sasl_key(key) {
                tracing::debug!("{origin}: {key} kept for the quorum's SASL");
            } else {
                tracing::info!("{origin}: {key} is not a known key; kept as a raw property");
            }
            return Ok(());
        };
        let c = &mut self.cfg;
        match k {
            Key::TickTime => c.tick_time_ms = values::positive_int(value).map_err(bad)? as u64,
            Key::ClientPort => c.client_port = values::port(value).map_err(bad)?,
            Key::ClientPortAddress => {
                c.client_port_address = values::non_empty(value).map_err(bad)?;
                self.client_port_address_set = true;
            }
            Key::DataDir => {
                c.data_dir = PathBuf::from(values::non_empty(value).map_err(bad)?);
                self.data_dir_set = true;
            }
            Key::DataLogDir => {
                c.data_log_dir = Some(PathBuf::from(values::non_empty(value).map_err(bad)?))
            }
            Key::MaxClientCnxns => {
                c.max_client_cnxns = values::non_negative_int(value).map_err(bad)? as u32
            }
            Key::MinSessionTimeout => {
                self.min_session_timeout = values::session_timeout(value).map_err(bad)?
            }
            Key::MaxSessionTimeout => {
                self.max_session_timeout = values::session_timeout(value).map_err(bad)?
            }
            Key::InitLimit => c.init_limit = values::non_negative_int(value).map_err(bad)? as u32,
            Key::SyncLimit => c.sync_limit = values::non_negative_int(value).map_err(bad)? as u32,
            Key::SnapCount => {
                let n = values::positive_decoded_int(value).map_err(bad)? as u64;
                if n < MIN_SNAP_COUNT {
                    tracing::warn!("{origin}: snapCount {n} is too small; using {MIN_SNAP_COUNT}");
                }
                c.snap_count = n.max(MIN_SNAP_COUNT);
            }
            Key::SnapRetainCount => {
                let n = values::any_int(value).map_err(bad)?;
                if n < i64::from(MIN_SNAP_RETAIN_COUNT) {
                    tracing::warn!(
                        "{origin}: invalid autopurge.snapRetainCount {n}; using {MIN_SNAP_RETAIN_COUNT}"
                    );
                }
                c.autopurge_snap_retain_count = n.max(i64::from(MIN_SNAP_RETAIN_COUNT)) as u32;
            }
            // ZooKeeper treats zero and negative intervals alike: purging disabled.
            Key::PurgeInterval => {
                c.autopurge_purge_interval_hours =
                    values::any_int(value).map_err(bad)?.max(0) as u32
            }
            Key::ExtendedTypesEnabled => {
                c.extended_types_enabled = values::boolean(value).map_err(bad)?
            }
            Key::FourLetterWhitelist => {
                let words = value
                    .split(',')
                    .map(|w| w.trim().to_ascii_lowercase())
                    .filter(|w| !w.is_empty());
                self.whitelist = Some(words.collect());
            }
            Key::JuteMaxBuffer => {
                c.jute_max_buffer = values::positive_decoded_int(value).map_err(bad)? as usize
            }
            Key::SuperDigest => {
                if !value.contains(':') {
                    return Err(bad(
                        "expected user:base64-sha1-digest, e.g. super:<digest>".into()
                    ));
                }
                c.super_digest = Some(value.to_string());
            }
            Key::ContainerCheckIntervalMs => {
                c.container_check_interval_ms =
                    values::positive_decoded_int(value).map_err(bad)? as u64
            }
            Key::ContainerMaxPerMinute => {
                c.container_max_per_minute =
                    values::positive_decoded_int(value).map_err(bad)? as u64
            }
            Key::ContainerMaxNeverUsedIntervalMs => {
                c.container_max_never_used_interval_ms =
                    values::non_negative_decoded_long(value).map_err(bad)? as u64
            }
            Key::AdminEnableServer => {
                c.admin_enable_server = values::boolean(value).map_err(bad)?
            }
            Key::AdminServerAddress => {
                c.admin_server_address = values::non_empty(value).map_err(bad)?
            }
            Key::AdminServerPort => c.admin_server_port = values::port(value).map_err(bad)?,
            Key::AdminCommandUrl => c.admin_command_url = values::non_empty(value).map_err(bad)?,
            Key::MetricsProviderClassName => {
                c.metrics_provider_class_name = values::non_empty(value).map_err(bad)?
            }
            Key::MetricsProviderHttpHost => {
                c.metrics_provider_http_host = Some(values::non_empty(value).map_err(bad)?)
            }
            Key::MetricsProviderHttpPort => {
                c.metrics_provider_http_port = Some(values::port(value).map_err(bad)?)
            }
            Key::ForceSync => c.force_sync = values::yes_no(value).map_err(bad)?,
            Key::PreAllocSize => {
                let kb = values::non_negative_long(value).map_err(bad)? as u64;
                c.pre_alloc_size_bytes = kb
                    .checked_mul(1024)
                    .ok_or_else(|| bad("expected a size in kilobytes".into()))?;
            }
            Key::LinearizableSync => c.linearizable_sync = values::boolean(value).map_err(bad)?,
            Key::StandaloneEnabled => c.standalone_enabled = values::boolean(value).map_err(bad)?,
            Key::ReconfigEnabled => c.reconfig_enabled = values::boolean(value).map_err(bad)?,
            Key::DynamicConfigFile => {
                let file = PathBuf::from(values::non_empty(value).map_err(bad)?);
                self.dynamic_config_file = Some((file, origin));
            }
            // Like Java's Boolean.getBoolean: only "true" enables it.
            Key::ReadOnlyModeEnabled => self.read_only_mode = value.eq_ignore_ascii_case("true"),
            Key::LocalSessionsEnabled => {
                c.local_sessions_enabled = values::boolean(value).map_err(bad)?
            }
            // Only FastLeaderElection exists; the key is checked, there is nothing to keep.
            Key::ElectionAlg => values::election_alg(value).map_err(bad)?,
            Key::PeerType => self.peer_type_observer = Some(values::peer_type(value).map_err(bad)?),
            Key::QuorumListenOnAllIps => {
                c.quorum_listen_on_all_ips = values::java_boolean(key, value).map_err(bad)?
            }
            Key::CnxTimeout => c.cnx_timeout_ms = values::cnx_timeout(value).map_err(bad)?,
            // ZKDatabase logs a bad value of these two and goes on with the default.
            Key::SnapshotSizeFactor => match values::snapshot_size_factor(value) {
                Ok(f) => c.snapshot_size_factor = f,
                Err(why) => {
                    tracing::warn!("{origin}: {why}");
                    c.snapshot_size_factor = values::DEFAULT_SNAPSHOT_SIZE_FACTOR;
                }
            },
            Key::CommitLogCount => match values::commit_log_count(value) {
                Ok(n) => c.commit_log_count = n,
                Err(why) => {
                    tracing::warn!("{origin}: {why}");
                    c.commit_log_count = values::DEFAULT_COMMIT_LOG_COUNT;
                }
            },
        }
        Ok(())
    }

    /// Read the server lines of a `dynamicConfigFile` (only `server.N`, `group.N`,
    /// `weight.N` and `version` are allowed there, as in ZooKeeper).
    fn load_dynamic_file(&mut self, file: &Path, origin: &Origin) -> Result<(), ConfigError> {
        if let Some((sid, at)) = self.server_origins.iter().next() {
            return Err(self.invalid(format!(
                "server.{sid} (at {at}) must be in the dynamic config file named by dynamicConfigFile ({origin})"
            )));
        }
        let bytes = std::fs::read(file).map_err(|source| ConfigError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        for e in properties::parse(&properties::decode(&bytes), file)? {
            let origin = Origin::File {
                path: file.to_path_buf(),
                line: e.line,
            };
            if e.key == "version" {
                // QuorumPeerConfig.parse: the version is the file name's suffix.
                return Err(ConfigError::Invalid {
                    source_name: origin.to_string(),
                    message: "dynamic file shouldn't have version inside".into(),
                });
            }
            let allowed = e.key.starts_with("server.")
                || e.key.starts_with("group.")
                || e.key.starts_with("weight.");
            if !allowed {
                return Err(ConfigError::Invalid {
                    source_name: origin.to_string(),
                    message: format!("Unrecognised parameter: {}", e.key),
                });
            }
            self.apply(&e.key, &e.value, origin)?;
        }
        self.cfg.config_version = super::dynamic::version_from_file_name(file).unwrap_or(0);
        Ok(())
    }

    /// The checks and derived values that need every key.
    pub fn finish(mut self) -> Result<Config, ConfigError> {
        if self.file_mode && !self.data_dir_set {
            return Err(self.invalid("dataDir is not set"));
        }
        if let Some((file, origin)) = self.dynamic_config_file.take() {
            self.load_dynamic_file(&file, &origin)?;
        }
        self.resolve_session_timeouts()?;
        self.resolve_whitelist();
        self.resolve_servers()?;
        self.resolve_client_port()?;
        Ok(self.cfg)
    }

    fn resolve_session_timeouts(&mut self) -> Result<(), ConfigError> {
        let tick = i32::try_from(self.cfg.tick_time_ms).unwrap_or(i32::MAX);
        let resolve = |t: i32, factor: i32| {
            if t == -1 {
                tick.saturating_mul(factor)
            } else {
                t
            }
        };
        self.cfg.min_session_timeout_ms = resolve(self.min_session_timeout, 2);
        self.cfg.max_session_timeout_ms = resolve(self.max_session_timeout, 20);
        if self.cfg.min_session_timeout_ms > self.cfg.max_session_timeout_ms {
            return Err(self.invalid(format!(
                "minSessionTimeout must not be larger than maxSessionTimeout ({} > {})",
                self.cfg.min_session_timeout_ms, self.cfg.max_session_timeout_ms
            )));
        }
        Ok(())
    }

    fn resolve_whitelist(&mut self) {
        if let Some(mut words) = self.whitelist.take() {
            if words.contains("*") {
                words = ["*".to_string()].into_iter().collect();
            }
            // zkServer.sh relies on srvr, so ZooKeeper always enables it.
            words.insert("srvr".into());
            self.cfg.four_letter_whitelist = words;
        }
        if self.read_only_mode {
            self.cfg.four_letter_whitelist.insert("isro".into());
        }
        self.cfg.read_only_mode_enabled = self.read_only_mode;
    }

    fn resolve_servers(&mut self) -> Result<(), ConfigError> {
        let participants = self.cfg.servers.values().filter(|s| !s.observer).count();
        let observers = self.cfg.servers.len() - participants;
        if participants == 0 && !self.cfg.standalone_enabled {
            return Err(
                self.invalid("standaloneEnabled = false then number of participants should be >0")
            );
        }
        if participants == 0 && observers > 0 {
            return Err(self.invalid("Observers w/o participants is an invalid configuration"));
        }
        if participants == 1 && observers > 0 && self.cfg.standalone_enabled {
            return Err(self.invalid("Observers w/o quorum is an invalid configuration"));
        }
        if self.cfg.servers.is_empty() {
            return Ok(());
        }
        let id = myid::read(&self.cfg.data_dir)?;
        self.cfg.my_id = Some(id);
        self.cfg.my_server = self.cfg.servers.get(&id).cloned();
        self.check_peer_type(id);
        if self.cfg.extended_types_enabled && id > MAX_EXTENDED_SERVER_ID {
            return Err(self.invalid(format!(
                "extendedTypesEnabled requires server ids of at most {MAX_EXTENDED_SERVER_ID}; myid is {id}"
            )));
        }
        if self.cfg.is_distributed() {
            if self.cfg.init_limit == 0 {
                return Err(self.invalid("initLimit is not set"));
            }
            if self.cfg.sync_limit == 0 {
                return Err(self.invalid("syncLimit is not set"));
            }
            if !self.cfg.servers.contains_key(&id) {
                return Err(self.invalid(format!(
                    "myid {id} (from {}) is not one of the server.N lines",
                    self.cfg.data_dir.join("myid").display()
                )));
            }
        }
        Ok(())
    }

    /// QuorumPeerConfig.setupPeerType: the server line decides the role; a peerType that
    /// disagrees is only warned about.
    fn check_peer_type(&self, id: u64) {
        let by_list = self.cfg.servers.get(&id).is_some_and(|s| s.observer);
        let name = |observer: bool| if observer { "OBSERVER" } else { "PARTICIPANT" };
        if let Some(given) = self.peer_type_observer.filter(|&o| o != by_list) {
            tracing::warn!(
                "Peer type from servers list ({}) doesn't match peerType ({}). Defaulting to servers list.",
                name(by_list),
                name(given)
            );
        }
    }

    fn resolve_client_port(&mut self) -> Result<(), ConfigError> {
        if self.cfg.client_port == 0 && self.client_port_address_set && self.file_mode {
            return Err(self.invalid("clientPortAddress is set but clientPort is not set"));
        }
        let own = self.cfg.my_id.and_then(|id| self.cfg.servers.get(&id));
        if let Some((host, port)) = own
            .and_then(|s| s.client_addr.as_deref())
            .and_then(server_line::split_client_addr)
        {
            let static_port = self.cfg.client_port;
            if static_port != 0 && static_port != port {
                return Err(self.invalid(format!(
                    "clientPort {static_port} differs from the client port {port} on this server's server.{} line",
                    self.cfg.my_id.unwrap_or_default()
                )));
            }
            self.cfg.client_port = port;
            self.cfg.client_port_address = host;
        }
        if self.file_mode && self.cfg.client_port == 0 {
            return Err(self.invalid("clientPort is not set"));
        }
        Ok(())
    }
}
