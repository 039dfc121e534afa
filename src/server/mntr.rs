//! The `mntr` key set of ZooKeeper 3.8 (in the order a standalone 3.8.0 prints it), with the
//! values Ferrokeeper has for them. Shared by the `mntr` word, the `monitor` admin command
//! and the Prometheus gauges. Keys with no Ferrokeeper counterpart report 0.
//! ZooKeeper's per-namespace summary sets (`*_per_namespace`) are left out.
//!
//! In an ensemble the role adds what ZooKeeper 3.8's quorum servers register: `peer_state`
//! (QuorumZooKeeperServer.dumpMonitorValues) and the `quorum_size` gauge on every member;
//! on the leader LeaderZooKeeperServer's gauges (`learners`, `synced_followers`,
//! `synced_non_voting_followers`, `synced_observers`, `pending_syncs`, `leader_uptime`,
//! `last/min/max_proposal_size`) and the LearnerHandlers' summary sets keyed by learner sid
//! (`{sid}_learner_handler_qp_size`, `{sid}_learner_handler_qp_time_ms`).

use crate::config::Config;
use crate::server::facts::Facts;
use crate::server::metrics;

/// What a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string (version, state).
    Text,
    /// A gauge.
    Gauge,
    /// A ServerMetrics counter.
    Counter,
    /// A summary: avg/min/max/cnt/sum.
    Basic,
    /// A summary with percentiles: avg/min/max/cnt/sum/p50/p95/p99/p999.
    Advanced,
}

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A double (printed the way Java prints it).
    Float(f64),
    /// A string.
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&java_double(*x)),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// A double as Java's `Double.toString` prints the values ZooKeeper reports (`0.0`, `3.5`).
pub fn java_double(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e7 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// The metrics, by base name.
pub const TABLE: &[(&str, Kind)] = &[
    ("version", Kind::Text),
    ("server_state", Kind::Text),
    ("ephemerals_count", Kind::Gauge),
    ("num_alive_connections", Kind::Gauge),
    ("avg_latency", Kind::Gauge),
    ("outstanding_requests", Kind::Gauge),
    ("znode_count", Kind::Gauge),
    ("global_sessions", Kind::Gauge),
    ("non_mtls_remote_conn_count", Kind::Gauge),
    ("last_client_response_size", Kind::Gauge),
    ("packets_sent", Kind::Gauge),
    ("packets_received", Kind::Gauge),
    ("max_client_response_size", Kind::Gauge),
    ("connection_drop_probability", Kind::Gauge),
    ("watch_count", Kind::Gauge),
    ("auth_failed_count", Kind::Gauge),
    ("min_latency", Kind::Gauge),
    ("max_file_descriptor_count", Kind::Gauge),
    ("approximate_data_size", Kind::Gauge),
    ("open_file_descriptor_count", Kind::Gauge),
    ("local_sessions", Kind::Gauge),
    ("uptime", Kind::Gauge),
    ("max_latency", Kind::Gauge),
    ("outstanding_tls_handshake", Kind::Gauge),
    ("min_client_response_size", Kind::Gauge),
    ("non_mtls_local_conn_count", Kind::Gauge),
    ("proposal_count", Kind::Counter),
    ("watch_bytes", Kind::Gauge),
    ("outstanding_changes_removed", Kind::Counter),
    ("throttled_ops", Kind::Counter),
    ("stale_requests_dropped", Kind::Counter),
    ("large_requests_rejected", Kind::Counter),
    ("insecure_admin_count", Kind::Counter),
    ("connection_rejected", Kind::Counter),
    ("cnxn_closed_without_zk_server_running", Kind::Counter),
    ("sessionless_connections_expired", Kind::Counter),
    ("looking_count", Kind::Counter),
    ("dead_watchers_queued", Kind::Counter),
    ("stale_requests", Kind::Counter),
    ("connection_drop_count", Kind::Counter),
    ("learner_proposal_received_count", Kind::Counter),
    ("digest_mismatches_count", Kind::Counter),
    ("dead_watchers_cleared", Kind::Counter),
    ("response_packet_cache_hits", Kind::Counter),
    ("bytes_received_count", Kind::Counter),
    ("add_dead_watcher_stall_time", Kind::Counter),
    ("request_throttle_wait_count", Kind::Counter),
    ("requests_not_forwarded_to_commit_processor", Kind::Counter),
    ("response_packet_cache_misses", Kind::Counter),
    ("ensemble_auth_success", Kind::Counter),
    ("prep_processor_request_queued", Kind::Counter),
    ("learner_commit_received_count", Kind::Counter),
    ("stale_replies", Kind::Counter),
    ("connection_request_count", Kind::Counter),
    ("response_bytes", Kind::Counter),
    ("ensemble_auth_fail", Kind::Counter),
    ("diff_count", Kind::Counter),
    ("response_packet_get_children_cache_misses", Kind::Counter),
    ("connection_revalidate_count", Kind::Counter),
    ("quit_leading_due_to_disloyal_voter", Kind::Counter),
    ("snap_count", Kind::Counter),
    ("unrecoverable_error_count", Kind::Counter),
    ("unsuccessful_handshake", Kind::Counter),
    ("commit_count", Kind::Counter),
    ("stale_sessions_expired", Kind::Counter),
    ("response_packet_get_children_cache_hits", Kind::Counter),
    ("sync_processor_request_queued", Kind::Counter),
    ("outstanding_changes_queued", Kind::Counter),
    ("request_commit_queued", Kind::Counter),
    ("ensemble_auth_skip", Kind::Counter),
    (
        "skip_learner_request_to_next_processor_count",
        Kind::Counter,
    ),
    ("tls_handshake_exceeded", Kind::Counter),
    ("revalidate_count", Kind::Counter),
    ("socket_closing_time", Kind::Basic),
    ("proposal_process_time", Kind::Basic),
    ("leader_unavailable_time", Kind::Basic),
    ("node_created_watch_count", Kind::Basic),
    ("session_queues_drained", Kind::Basic),
    ("write_commit_proc_req_queued", Kind::Basic),
    ("connection_token_deficit", Kind::Basic),
    ("read_commit_proc_req_queued", Kind::Basic),
    ("node_deleted_watch_count", Kind::Basic),
    ("startup_txns_load_time", Kind::Basic),
    ("sync_processor_queue_size", Kind::Basic),
    ("follower_sync_time", Kind::Basic),
    ("prep_processor_queue_size", Kind::Basic),
    ("fsynctime", Kind::Basic),
    ("inflight_snap_count", Kind::Basic),
    ("reads_issued_from_session_queue", Kind::Basic),
    ("learner_request_processor_queue_size", Kind::Basic),
    ("snapshottime", Kind::Basic),
    ("unavailable_time", Kind::Basic),
    ("startup_txns_loaded", Kind::Basic),
    ("reads_after_write_in_session_queue", Kind::Basic),
    ("requests_in_session_queue", Kind::Basic),
    ("write_commit_proc_issued", Kind::Basic),
    ("prep_process_time", Kind::Basic),
    ("pending_session_queue_size", Kind::Basic),
    (
        "time_waiting_empty_pool_in_commit_processor_read_ms",
        Kind::Basic,
    ),
    ("commit_process_time", Kind::Basic),
    ("dbinittime", Kind::Basic),
    ("inflight_diff_count", Kind::Basic),
    ("netty_queued_buffer_capacity", Kind::Basic),
    ("election_time", Kind::Basic),
    ("commit_commit_proc_req_queued", Kind::Basic),
    ("sync_processor_batch_size", Kind::Basic),
    ("node_children_watch_count", Kind::Basic),
    ("write_batch_time_in_commit_processor", Kind::Basic),
    ("read_commit_proc_issued", Kind::Basic),
    (
        "concurrent_request_processing_in_commit_processor",
        Kind::Basic,
    ),
    ("observer_sync_time", Kind::Basic),
    ("node_changed_watch_count", Kind::Basic),
    ("sync_process_time", Kind::Basic),
    ("startup_snap_load_time", Kind::Basic),
    ("prep_processor_queue_time_ms", Kind::Advanced),
    ("jvm_pause_time_ms", Kind::Advanced),
    ("close_session_prep_time", Kind::Advanced),
    ("read_commitproc_time_ms", Kind::Advanced),
    ("updatelatency", Kind::Advanced),
    ("local_write_committed_time_ms", Kind::Advanced),
    ("request_throttle_queue_time_ms", Kind::Advanced),
    ("readlatency", Kind::Advanced),
    ("quorum_ack_latency", Kind::Advanced),
    ("om_commit_process_time_ms", Kind::Advanced),
    ("read_final_proc_time_ms", Kind::Advanced),
    ("commit_propagation_latency", Kind::Advanced),
    ("dead_watchers_cleaner_latency", Kind::Advanced),
    ("write_final_proc_time_ms", Kind::Advanced),
    ("proposal_ack_creation_latency", Kind::Advanced),
    ("proposal_latency", Kind::Advanced),
    ("om_proposal_process_time_ms", Kind::Advanced),
    ("sync_processor_queue_and_flush_time_ms", Kind::Advanced),
    ("propagation_latency", Kind::Advanced),
    ("server_write_committed_time_ms", Kind::Advanced),
    ("sync_processor_queue_time_ms", Kind::Advanced),
    ("sync_processor_queue_flush_time_ms", Kind::Advanced),
    ("write_commitproc_time_ms", Kind::Advanced),
];

fn fd_counts() -> (i64, i64) {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (open, max)
}

/// The gauges a quorum server adds after `server_state` (`peer_state` is text).
fn quorum_values(f: &Facts, out: &mut Vec<(String, Kind, Value)>) {
    let Some(q) = &f.quorum else {
        return;
    };
    out.push((
        "peer_state".into(),
        Kind::Text,
        Value::Text(q.peer_state.clone()),
    ));
    out.push((
        "quorum_size".into(),
        Kind::Gauge,
        Value::Int(q.quorum_size as i64),
    ));
    let Some(l) = &q.leading else {
        return;
    };
    let (last, min, max) = l.proposal_sizes;
    for (name, v) in [
        ("learners", l.learners as i64),
        ("synced_followers", l.synced_followers as i64),
        (
            "synced_non_voting_followers",
            l.synced_non_voting_followers as i64,
        ),
        ("synced_observers", l.synced_observers as i64),
        ("pending_syncs", l.pending_syncs as i64),
        ("leader_uptime", l.uptime_ms as i64),
        ("last_proposal_size", last),
        ("min_proposal_size", min),
        ("max_proposal_size", max),
    ] {
        out.push((name.into(), Kind::Gauge, Value::Int(v)));
    }
}

/// A summary's keys (`avg_`, `min_`, `max_`, `cnt_`, `sum_`, and for an advanced one the
/// percentiles), from the samples recorded under `name`.
fn summary_values(name: &str, kind: Kind, out: &mut Vec<(String, Kind, Value)>) {
    let s = metrics::summary(name);
    out.push((format!("avg_{name}"), kind, Value::Float(s.avg())));
    out.push((format!("min_{name}"), kind, Value::Int(s.min as i64)));
    out.push((format!("max_{name}"), kind, Value::Int(s.max as i64)));
    out.push((format!("cnt_{name}"), kind, Value::Int(s.count as i64)));
    out.push((format!("sum_{name}"), kind, Value::Int(s.sum as i64)));
    if kind == Kind::Advanced {
        for (p, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
            out.push((
                format!("{p}_{name}"),
                kind,
                Value::Int(s.quantile(q) as i64),
            ));
        }
    }
}

/// Every key with its value; `extra_conns` counts connections the core does not know of
/// (the one asking, for a four-letter word).
pub fn values(f: &Facts, _cfg: &Config, extra_conns: usize) -> Vec<(String, Kind, Value)> {
    let (open_fds, max_fds) = fd_counts();
    let mut out = Vec::with_capacity(TABLE.len() * 6);
    for (name, kind) in TABLE {
        let name = *name;
        match kind {
            Kind::Text => {
                let v = match name {
                    "version" => format!(
                        "{}, built on {}",
                        crate::server::fourlw::VERSION,
                        crate::server::fourlw::BUILT
                    ),
                    _ => f.server_state.to_string(),
                };
                out.push((name.to_string(), *kind, Value::Text(v)));
                if name == "server_state" {
                    quorum_values(f, &mut out);
                }
            }
            Kind::Gauge | Kind::Counter => {
                let v = match name {
                    "ephemerals_count" => Value::Int(f.ephemerals_count as i64),
                    "digest_mismatches_count" => Value::Int(f.digest_mismatches as i64),
                    "num_alive_connections" => Value::Int((f.conns.len() + extra_conns) as i64),
                    "avg_latency" => Value::Float(f.latency.avg()),
                    "min_latency" => Value::Int(f.latency.min as i64),
                    "max_latency" => Value::Int(f.latency.max as i64),
                    "znode_count" => Value::Int(f.node_count as i64),
                    "global_sessions" => Value::Int(f.sessions as i64),
                    "packets_sent" => Value::Int(f.packets_sent as i64),
                    "packets_received" => Value::Int(f.packets_received as i64),
                    "connection_drop_probability" => Value::Float(0.0),
                    "watch_count" => Value::Int(f.watch_count as i64),
                    "approximate_data_size" => Value::Int(f.approximate_data_size as i64),
                    "open_file_descriptor_count" => Value::Int(open_fds),
                    "max_file_descriptor_count" => Value::Int(max_fds),
                    "uptime" => Value::Int(f.uptime_ms as i64),
                    "last_client_response_size" => Value::Int(f.responses.last),
                    "max_client_response_size" => Value::Int(f.responses.max),
                    "min_client_response_size" => Value::Int(f.responses.min),
                    _ if *kind == Kind::Counter => Value::Int(metrics::counter(name) as i64),
                    _ => Value::Int(0),
                };
                out.push((name.to_string(), *kind, v));
            }
            Kind::Basic | Kind::Advanced => summary_values(name, *kind, &mut out),
        }
    }
    // The leader's LearnerHandler summary sets, one entry per learner sid.
    if let Some(l) = f.quorum.as_ref().and_then(|q| q.leading.as_ref()) {
        for sid in &l.learner_sids {
            summary_values(
                &format!("{sid}_{LEARNER_HANDLER_QP_SIZE}"),
                Kind::Basic,
                &mut out,
            );
        }
        for sid in &l.learner_sids {
            summary_values(
                &format!("{sid}_{LEARNER_HANDLER_QP_TIME}"),
                Kind::Advanced,
                &mut out,
            );
        }
    }
    out
}

/// ServerMetrics.LEARNER_HANDLER_QP_SIZE (a summary set keyed by learner sid).
pub const LEARNER_HANDLER_QP_SIZE: &str = "learner_handler_qp_size";
/// ServerMetrics.LEARNER_HANDLER_QP_TIME (a summary set keyed by learner sid).
pub const LEARNER_HANDLER_QP_TIME: &str = "learner_handler_qp_time_ms";
