//! The keys the configuration models, and their accepted spellings.

/// A modelled key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    TickTime,
    ClientPort,
    ClientPortAddress,
    DataDir,
    DataLogDir,
    MaxClientCnxns,
    MinSessionTimeout,
    MaxSessionTimeout,
    InitLimit,
    SyncLimit,
    SnapCount,
    SnapRetainCount,
    PurgeInterval,
    ExtendedTypesEnabled,
    FourLetterWhitelist,
    JuteMaxBuffer,
    SuperDigest,
    ContainerCheckIntervalMs,
    ContainerMaxPerMinute,
    ContainerMaxNeverUsedIntervalMs,
    AdminEnableServer,
    AdminServerAddress,
    AdminServerPort,
    AdminCommandUrl,
    MetricsProviderClassName,
    MetricsProviderHttpHost,
    MetricsProviderHttpPort,
    ForceSync,
    PreAllocSize,
    StandaloneEnabled,
    ReconfigEnabled,
    DynamicConfigFile,
    ReadOnlyModeEnabled,
    LocalSessionsEnabled,
    ElectionAlg,
    PeerType,
    QuorumListenOnAllIps,
    CnxTimeout,
    SnapshotSizeFactor,
    CommitLogCount,
    LinearizableSync,
}

/// Canonical spellings (as in zoo.cfg, or as the system property for property-only keys).
const NAMES: &[(&str, Key)] = &[
    ("tickTime", Key::TickTime),
    ("clientPort", Key::ClientPort),
    ("clientPortAddress", Key::ClientPortAddress),
    ("dataDir", Key::DataDir),
    ("dataLogDir", Key::DataLogDir),
    ("maxClientCnxns", Key::MaxClientCnxns),
    ("minSessionTimeout", Key::MinSessionTimeout),
    ("maxSessionTimeout", Key::MaxSessionTimeout),
    ("initLimit", Key::InitLimit),
    ("syncLimit", Key::SyncLimit),
    ("snapCount", Key::SnapCount),
    ("autopurge.snapRetainCount", Key::SnapRetainCount),
    ("autopurge.purgeInterval", Key::PurgeInterval),
    ("extendedTypesEnabled", Key::ExtendedTypesEnabled),
    ("4lw.commands.whitelist", Key::FourLetterWhitelist),
    ("jute.maxbuffer", Key::JuteMaxBuffer),
    ("DigestAuthenticationProvider.superDigest", Key::SuperDigest),
    (
        "znode.container.checkIntervalMs",
        Key::ContainerCheckIntervalMs,
    ),
    ("znode.container.maxPerMinute", Key::ContainerMaxPerMinute),
    (
        "znode.container.maxNeverUsedIntervalMs",
        Key::ContainerMaxNeverUsedIntervalMs,
    ),
    ("admin.enableServer", Key::AdminEnableServer),
    ("admin.serverAddress", Key::AdminServerAddress),
    ("admin.serverPort", Key::AdminServerPort),
    ("admin.commandURL", Key::AdminCommandUrl),
    ("metricsProvider.className", Key::MetricsProviderClassName),
    ("metricsProvider.httpHost", Key::MetricsProviderHttpHost),
    ("metricsProvider.httpPort", Key::MetricsProviderHttpPort),
    ("forceSync", Key::ForceSync),
    ("preAllocSize", Key::PreAllocSize),
    ("standaloneEnabled", Key::StandaloneEnabled),
    ("reconfigEnabled", Key::ReconfigEnabled),
    ("dynamicConfigFile", Key::DynamicConfigFile),
    ("readonlymode.enabled", Key::ReadOnlyModeEnabled),
    ("localSessionsEnabled", Key::LocalSessionsEnabled),
    ("electionAlg", Key::ElectionAlg),
    ("peerType", Key::PeerType),
    ("quorumListenOnAllIPs", Key::QuorumListenOnAllIps),
    // The next three are system properties (`zookeeper.X`) that ZooKeeper reads; a zoo.cfg
    // sets them with the bare name, as it sets every key QuorumPeerConfig does not know.
    ("cnxTimeout", Key::CnxTimeout),
    ("snapshotSizeFactor", Key::SnapshotSizeFactor),
    ("commitLogCount", Key::CommitLogCount),
    // Ferrokeeper's own (not in ZooKeeper): a leader answers a sync only after a quorum
    // round confirms it still leads.
    ("linearizableSync", Key::LinearizableSync),
];

/// The modelled key `key` names: its canonical spelling, or that with a `zookeeper.` prefix
/// (ZooKeeper turns an unknown zoo.cfg key `X` into the system property `zookeeper.X`).
pub fn lookup(key: &str) -> Option<Key> {
    let find = |k: &str| {
        NAMES
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, key)| *key)
    };
    find(key).or_else(|| key.strip_prefix("zookeeper.").and_then(find))
}

/// The N of a `server.N` key, if it is one.
pub fn server_suffix(key: &str) -> Option<&str> {
    key.strip_prefix("server.")
}
