//! The AdminServer's commands: ZooKeeper 3.8's names, aliases and JSON fields.

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::json::{obj, J};
use crate::config::Config;
use crate::server::core::CoreMsg;
use crate::server::facts::{ConnFact, Facts, LearnerLinkFacts, OpsCmd};
use crate::server::fourlw::{self, BUILT, TRACE_MASK, VERSION};
use crate::server::{envinfo, mntr};
use crate::tree::digest::DIGEST_VERSION;

/// (primary name, aliases), as ZooKeeper 3.8 registers them.
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connection_stat_reset", &["crst"]),
    ("connections", &["cons"]),
    ("dirs", &[]),
    ("dump", &[]),
    ("environment", &["envi"]),
    ("get_trace_mask", &["gtmk"]),
    ("hash", &[]),
    ("initial_configuration", &["icfg"]),
    ("is_read_only", &["isro"]),
    ("last_snapshot", &["lsnp"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("observer_connection_stat_reset", &["orst"]),
    ("observers", &["obsr"]),
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("set_trace_mask", &["stmk"]),
    ("stat_reset", &["srst"]),
    ("stats", &["stat"]),
    ("system_properties", &["sysp"]),
    ("voting_view", &[]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("watches_by_path", &["wchp"]),
    ("zabstate", &[]),
];

/// The primary name of a command or alias.
pub fn resolve(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(p, aliases)| *p == name || aliases.contains(&name))
        .map(|(p, _)| *p)
}

/// The names GET on the command URL lists.
pub fn listed() -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().map(|(p, _)| *p)
}

fn conn_json(c: &ConnFact, brief: bool) -> J {
    let mut v = vec![
        ("remote_socket_address", J::from(c.addr.to_string())),
        ("interest_ops", J::Int(1)),
        ("outstanding_requests", J::Int(0)),
        ("packets_received", J::Int(c.received as i64)),
        ("packets_sent", J::Int(c.sent as i64)),
    ];
    if !brief {
        let s = &c.stats;
        v.extend([
            ("session_id", J::Int(c.session_id)),
            ("last_operation", J::from(s.last_op)),
            ("established", J::Int(s.established_ms)),
            ("session_timeout", J::Int(i64::from(s.timeout_ms))),
            ("last_cxid", J::Int(s.last_cxid)),
            ("last_zxid", J::Int(s.last_zxid)),
            ("last_response_time", J::Int(s.last_response_ms)),
            ("last_latency", J::Int(s.last_latency as i64)),
            ("min_latency", J::Int(s.latency.min as i64)),
            (
                "avg_latency",
                J::Int(s.latency.sum.checked_div(s.latency.count).unwrap_or(0) as i64),
            ),
            ("max_latency", J::Int(s.latency.max as i64)),
        ]);
    }
    obj(v)
}

fn buffer_stats(f: &Facts) -> J {
    obj([
        ("last_buffer_size", J::Int(f.responses.last)),
        ("min_buffer_size", J::Int(f.responses.min)),
        ("max_buffer_size", J::Int(f.responses.max)),
    ])
}

pub(crate) fn server_stats(f: &Facts, cfg: &Config) -> Vec<(&'static str, J)> {
    let (data, log) = envinfo::dir_sizes(cfg);
    let stats = obj([
        ("packets_sent", J::Int(f.packets_sent as i64)),
        ("packets_received", J::Int(f.packets_received as i64)),
        ("fsync_threshold_exceed_count", J::Int(0)),
        ("client_response_stats", buffer_stats(f)),
        ("data_dir_size", J::Int(data as i64)),
        ("log_dir_size", J::Int(log as i64)),
        ("provider_null", J::Bool(false)),
        ("server_state", J::from(f.server_state)),
        ("last_processed_zxid", J::Int(f.zxid)),
        ("outstanding_requests", J::Int(0)),
        ("avg_latency", J::Float(f.latency.avg())),
        ("max_latency", J::Int(f.latency.max as i64)),
        ("min_latency", J::Int(f.latency.min as i64)),
        ("num_alive_client_connections", J::Int(f.conns.len() as i64)),
        ("uptime", J::Int(f.uptime_ms as i64)),
        ("auth_failed_count", J::Int(0)),
        ("non_mtlsremote_conn_count", J::Int(0)),
        ("non_mtlslocal_conn_count", J::Int(0)),
    ]);
    let mut v = vec![
        ("version", J::from(format!("{VERSION}, built on {BUILT}"))),
        ("read_only", J::Bool(f.server_state == "read-only")),
        ("server_stats", stats),
        ("client_response", buffer_stats(f)),
    ];
    // A leader's LeaderZooKeeperServer adds its proposal sizes (Leader.getProposalStats).
    if let Some(l) = f.quorum.as_ref().and_then(|q| q.leading.as_ref()) {
        if f.server_state == "leader" {
            let (last, min, max) = l.proposal_sizes;
            v.push((
                "proposal_stats",
                obj([
                    ("last_buffer_size", J::Int(last)),
                    ("min_buffer_size", J::Int(min)),
                    ("max_buffer_size", J::Int(max)),
                ]),
            ));
        }
    }
    v.push(("node_count", J::Int(f.node_count as i64)));
    v
}

/// `host:port` as the AdminServer writes an InetSocketAddress (`%s:%d`, IPv6 in brackets).
fn host_port(host: &str, port: u16) -> String {
    format!("{}:{port}", envinfo::delimited_host(host))
}

/// This server's client address (QuorumPeer.getClientAddress).
fn client_address(cfg: &Config) -> String {
    host_port(&cfg.client_port_address, cfg.client_port)
}

/// A MultipleAddresses of one address, as Jackson writes its bean properties.
fn multiple_addresses(host: &str, port: u16) -> J {
    let a = host_port(host, port);
    obj([
        ("empty", J::Bool(false)),
        ("all_addresses", J::Arr(vec![J::from(a.clone())])),
        ("all_reachable_addresses", J::Arr(vec![J::from(a.clone())])),
        ("one", J::from(a.clone())),
        ("reachable_address", J::from(a.clone())),
        (
            "wildcard_addresses",
            J::Arr(vec![J::from(format!("0.0.0.0:{port}"))]),
        ),
        ("all_ports", J::Arr(vec![J::Int(i64::from(port))])),
        (
            "all_host_strings",
            J::Arr(vec![J::from(host.trim_matches(['[', ']']))]),
        ),
        (
            "all_reachable_addresses_or_all",
            J::Arr(vec![J::from(a.clone())]),
        ),
        ("reachable_or_one", J::from(a)),
    ])
}

/// VotingViewCommand: the voting members, keyed by sid (QuorumServerView).
pub(crate) fn voting_view(cfg: &Config) -> J {
    let members = cfg
        .servers
        .iter()
        .filter(|(_, s)| !s.observer)
        .map(|(sid, s)| {
            let client = if cfg.my_id == Some(*sid) {
                client_address(cfg)
            } else {
                s.client_addr.clone().unwrap_or_default()
            };
            (
                sid.to_string(),
                obj([
                    (
                        "server_addresses",
                        J::Arr(vec![J::from(host_port(&s.host, s.quorum_port))]),
                    ),
                    (
                        "election_addresses",
                        J::Arr(vec![J::from(host_port(&s.host, s.election_port))]),
                    ),
                    ("client_address", J::from(client)),
                    ("learner_type", J::from("participant")),
                ]),
            )
        });
    obj(members)
}

/// ZabStateCommand: this member's addresses, its zxid and QuorumPeer.getZabState.
pub(crate) fn zabstate(cfg: &Config, f: &Facts) -> Vec<(&'static str, J)> {
    let myid = cfg.my_id.unwrap_or(0);
    let me = cfg.servers.get(&myid);
    let q = f.quorum.as_ref();
    let zab = q
        .and_then(|q| q.peer_state.split_once(" - "))
        .map_or("election", |(_, z)| z);
    let addr = |port: fn(&crate::config::ServerSpec) -> u16| {
        me.map_or(J::Null, |s| multiple_addresses(&s.host, port(s)))
    };
    vec![
        ("myid", J::Int(myid as i64)),
        (
            "is_leader",
            J::Bool(q.is_some_and(|q| q.leader == Some(myid))),
        ),
        ("quorum_address", addr(|s| s.quorum_port)),
        ("election_address", addr(|s| s.election_port)),
        ("client_address", J::from(client_address(cfg))),
        ("voting", J::Bool(me.is_some_and(|s| !s.observer))),
        ("last_zxid", J::from(format!("0x{:x}", f.zxid))),
        ("zab_epoch", J::Int(f.zxid >> 32)),
        ("zab_counter", J::Int(f.zxid & 0xffff_ffff)),
        ("zabstate", J::from(zab)),
    ]
}

/// Keys QuorumPeerConfig understands; ZooKeeper turns the others into `zookeeper.` system
/// properties.
const KNOWN_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "secureClientPort",
    "secureClientPortAddress",
    "clientPortListenBacklog",
    "tickTime",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "initLimit",
    "syncLimit",
    "electionAlg",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "quorumListenOnAllIPs",
    "observerMasterPort",
    "connectToLearnerMasterLimit",
    "sslQuorum",
    "portUnification",
    "snapCount",
];

fn system_properties(cfg: &Config) -> Vec<(String, J)> {
    let mut props: std::collections::BTreeMap<String, String> = Default::default();
    for (k, v) in envinfo::environment() {
        if !k.starts_with("java.") || k == "java.io.tmpdir" || k == "java.class.path" {
            if k.starts_with("os.memory") || k.starts_with("zookeeper.") || k == "host.name" {
                continue;
            }
            props.insert(k.to_string(), v);
        }
    }
    for (k, v) in [
        ("file.encoding", "UTF-8"),
        ("native.encoding", "UTF-8"),
        ("file.separator", "/"),
        ("path.separator", ":"),
        ("line.separator", "\n"),
        ("user.language", "en"),
    ] {
        props.insert(k.into(), v.into());
    }
    props.insert(
        "user.timezone".into(),
        std::env::var("TZ").unwrap_or_else(|_| "Etc/UTC".into()),
    );
    for (k, v) in &cfg.raw {
        let key = if ["zookeeper.", "znode.", "jute.", "java."]
            .iter()
            .any(|p| k.starts_with(p))
        {
            k.clone()
        } else if KNOWN_KEYS.contains(&k.as_str())
            || k.starts_with("server.")
            || k.starts_with("metricsProvider.")
            || k.starts_with("group.")
            || k.starts_with("weight.")
        {
            continue;
        } else {
            format!("zookeeper.{k}")
        };
        props.insert(key, v.clone());
    }
    props.into_iter().map(|(k, v)| (k, J::Str(v))).collect()
}

/// Runs a command (`name` already resolved) and returns its fields, before `command`/`error`.
/// An `Err` is the error text ZooKeeper puts in `error`.
pub async fn run(
    name: &str,
    query: &[(String, String)],
    cfg: &Config,
    core: &mpsc::Sender<CoreMsg>,
) -> Result<Vec<(String, J)>, String> {
    let needs = |cmd| async move {
        fourlw::facts(core, cmd)
            .await
            .ok_or_else(|| "server is not running".to_string())
    };
    // A reconfig changes the membership: the core has the configuration in force.
    let live = if cfg.is_distributed() {
        fourlw::facts(core, crate::server::facts::OpsCmd::Facts)
            .await
            .and_then(|f| f.config)
    } else {
        None
    };
    let cfg: &Config = live.as_deref().unwrap_or(cfg);
    let kv = |v: Vec<(&str, J)>| v.into_iter().map(|(k, j)| (k.to_string(), j)).collect();
    Ok(match name {
        "configuration" => {
            let c = envinfo::conf_entries(cfg);
            let get = |k: &str| {
                c.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let num = |k: &str| J::Int(get(k).parse().unwrap_or(0));
            kv(vec![
                ("client_port", num("clientPort")),
                ("data_dir", J::from(get("dataDir"))),
                ("data_log_dir", J::from(get("dataLogDir"))),
                ("tick_time", num("tickTime")),
                ("max_client_cnxns", num("maxClientCnxns")),
                ("min_session_timeout", num("minSessionTimeout")),
                ("max_session_timeout", num("maxSessionTimeout")),
                ("server_id", num("serverId")),
                ("client_port_listen_backlog", J::Int(-1)),
            ])
        }
        "connection_stat_reset" => {
            needs(OpsCmd::ResetConns).await?;
            vec![]
        }
        "stat_reset" => {
            needs(OpsCmd::ResetServer).await?;
            vec![]
        }
        "connections" => {
            let f = needs(OpsCmd::Facts).await?;
            kv(vec![
                (
                    "connections",
                    J::Arr(f.conns.iter().map(|c| conn_json(c, false)).collect()),
                ),
                ("secure_connections", J::Arr(vec![])),
            ])
        }
        "dirs" => {
            let (d, l) = envinfo::dir_sizes(cfg);
            kv(vec![
                ("datadir_size", J::Int(d as i64)),
                ("logdir_size", J::Int(l as i64)),
            ])
        }
        "dump" => {
            let f = needs(OpsCmd::Detailed).await?;
            let expiry = f.session_expiry.iter().map(|(at, ids)| {
                (
                    at.to_string(),
                    J::Arr(ids.iter().map(|i| J::Int(*i)).collect()),
                )
            });
            let eph = f.ephemerals.iter().map(|(sid, paths)| {
                (
                    sid.to_string(),
                    J::Arr(paths.iter().map(|p| J::from(p.as_str())).collect()),
                )
            });
            kv(vec![
                ("expiry_time_to_session_ids", obj(expiry)),
                ("session_id_to_ephemeral_paths", obj(eph)),
            ])
        }
        "environment" => envinfo::environment()
            .into_iter()
            .map(|(k, v)| (k.to_string(), J::Str(v)))
            .collect(),
        "get_trace_mask" => kv(vec![(
            "tracemask",
            J::Int(TRACE_MASK.load(Ordering::Relaxed)),
        )]),
        "set_trace_mask" => {
            let mask = query
                .iter()
                .find(|(k, _)| k == "traceMask")
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .ok_or_else(|| "setTraceMask requires long traceMask argument".to_string())?;
            TRACE_MASK.store(mask, Ordering::Relaxed);
            kv(vec![("tracemask", J::Int(mask))])
        }
        "hash" => {
            // DigestCommand: the digest log's ZxidDigest beans as Jackson writes them.
            let f = needs(OpsCmd::Digests).await?;
            let digests = f.digests.iter().map(|d| {
                obj([
                    ("zxid", J::Int(d.zxid)),
                    ("digest", J::Int(d.digest)),
                    ("digest_version", J::Int(i64::from(DIGEST_VERSION))),
                ])
            });
            kv(vec![("digests", J::Arr(digests.collect()))])
        }
        "initial_configuration" => {
            let text = cfg
                .config_file
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            kv(vec![("initial_configuration", J::Str(text))])
        }
        "is_read_only" => {
            let f = needs(OpsCmd::Facts).await?;
            // IsroCommand needs a running server, as CommandBase says by default.
            if f.server_state.is_empty() {
                return Err("This ZooKeeper instance is not currently serving requests".into());
            }
            kv(vec![("read_only", J::Bool(f.server_state == "read-only"))])
        }
        "last_snapshot" => {
            let (zxid, secs) = crate::server::metrics::last_snapshot();
            kv(vec![
                ("zxid", J::Str(format!("{zxid:x}"))),
                ("timestamp", J::Int(secs)),
            ])
        }
        "leader" => {
            let f = needs(OpsCmd::Facts).await?;
            let Some(q) = f.quorum.as_ref().filter(|_| cfg.is_distributed()) else {
                return Err("server is not initialized".into());
            };
            let leader = q.leader.and_then(|sid| cfg.servers.get(&sid));
            kv(vec![
                (
                    "is_leader",
                    J::Bool(q.leader.is_some() && q.leader == cfg.my_id),
                ),
                ("leader_id", J::Int(q.leader.map_or(-1, |sid| sid as i64))),
                (
                    "leader_ip",
                    J::from(leader.map_or(String::new(), |s| s.host.clone())),
                ),
            ])
        }
        "observer_connection_stat_reset" => {
            needs(OpsCmd::ResetObservers).await?;
            vec![]
        }
        "ruok" => vec![],
        "observers" => {
            // A leader lists its synced observers; anyone else (no observer master here)
            // answers none, as Java's followers without observerMasterPort do.
            let f = needs(OpsCmd::Facts).await?;
            let leading = f.quorum.as_ref().and_then(|q| q.leading.as_ref());
            let observers = leading
                .filter(|_| f.server_state == "leader")
                .map_or(&[][..], |l| &l.observers[..]);
            kv(vec![
                ("synced_observers", J::Int(observers.len() as i64)),
                (
                    "observers",
                    J::Arr(observers.iter().map(observer_info).collect()),
                ),
            ])
        }
        "monitor" => {
            let f = needs(OpsCmd::Facts).await?;
            mntr::values(&f, cfg, 0)
                .into_iter()
                .map(|(k, _, v)| (k, J::from(&v)))
                .collect()
        }
        "server_stats" => {
            let f = needs(OpsCmd::Facts).await?;
            kv(server_stats(&f, cfg))
        }
        "stats" => {
            let f = needs(OpsCmd::Facts).await?;
            let mut v = server_stats(&f, cfg);
            v.push((
                "connections",
                J::Arr(f.conns.iter().map(|c| conn_json(c, true)).collect()),
            ));
            v.push(("secure_connections", J::Arr(vec![])));
            kv(v)
        }
        "system_properties" => system_properties(cfg),
        "voting_view" => {
            if cfg.is_distributed() {
                kv(vec![("current_config", voting_view(cfg))])
            } else {
                kv(vec![("current_config", obj::<&str>([]))])
            }
        }
        "watch_summary" => {
            let f = needs(OpsCmd::Facts).await?;
            let (c, p, t) = f.watch_summary;
            kv(vec![
                ("num_connections", J::Int(c as i64)),
                ("num_paths", J::Int(p as i64)),
                ("num_total_watches", J::Int(t as i64)),
            ])
        }
        "watches" => {
            let f = needs(OpsCmd::Detailed).await?;
            let m = f.watches_by_session.iter().map(|(sid, paths)| {
                (
                    sid.to_string(),
                    J::Arr(paths.iter().map(|p| J::from(p.as_str())).collect()),
                )
            });
            kv(vec![("session_id_to_watched_paths", obj(m))])
        }
        "watches_by_path" => {
            let f = needs(OpsCmd::Detailed).await?;
            let m = f
                .watches_by_path
                .iter()
                .map(|(p, sids)| (p.clone(), J::Arr(sids.iter().map(|s| J::Int(*s)).collect())));
            kv(vec![("path_to_session_ids", obj(m))])
        }
        "zabstate" => {
            if cfg.is_distributed() {
                let f = needs(OpsCmd::Facts).await?;
                kv(zabstate(cfg, &f))
            } else {
                kv(vec![("voting", J::Bool(false)), ("zabstate", J::from(""))])
            }
        }
        other => return Err(format!("Unknown command: {other}")),
    })
}

/// LearnerHandler.getLearnerHandlerInfo, in its key order.
fn observer_info(o: &LearnerLinkFacts) -> J {
    obj([
        (
            "remote_socket_address",
            J::from(o.remote_socket_address.clone()),
        ),
        ("sid", J::Int(o.sid as i64)),
        ("established", J::Int(o.established_ms)),
        ("queued_packets", J::Int(o.queued_packets as i64)),
        ("queued_packets_size", J::Int(o.queued_packets_size)),
        ("packets_received", J::Int(o.packets_received as i64)),
        ("packets_sent", J::Int(o.packets_sent as i64)),
        ("requests", J::Int(o.requests as i64)),
        ("last_zxid", J::Int(o.last_zxid)),
    ])
}
