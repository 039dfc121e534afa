//! Four-letter words on the client port, in ZooKeeper 3.8's formats, with its
//! `4lw.commands.whitelist` rule (`srvr` always allowed).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::server::core::CoreMsg;
use crate::server::facts::{ConnFact, Facts, OpsCmd};
use crate::server::{envinfo, mntr};

/// The version string reported to operators.
pub const VERSION: &str = concat!("3.8.0-ferrokeeper-", env!("CARGO_PKG_VERSION"));
/// The build date reported next to it.
pub const BUILT: &str = "1970-01-01 00:00 UTC";

/// ZooKeeper's trace mask (`gtmk`, `stmk`, `get_trace_mask`); its default is 0x132.
pub static TRACE_MASK: AtomicI64 = AtomicI64::new(306);

/// Asks the core for facts; None if the core is gone.
pub async fn facts(core: &mpsc::Sender<CoreMsg>, cmd: OpsCmd) -> Option<Facts> {
    let (tx, rx) = oneshot::channel();
    core.send(CoreMsg::Input(crate::server::core::Input::Ops {
        cmd,
        reply: tx,
    }))
    .await
    .ok()?;
    rx.await.ok()
}

/// The text answer to a four-letter word from `peer`.
pub async fn answer(
    word: &[u8; 4],
    cfg: &Config,
    core: &mpsc::Sender<CoreMsg>,
    peer: Option<SocketAddr>,
) -> String {
    let cmd = String::from_utf8_lossy(word).to_string();
    // `srvr` is always allowed, whatever the whitelist says.
    if cmd != "srvr" && !cfg.four_letter_word_enabled(&cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let detailed = matches!(&cmd[..], "dump" | "wchc" | "wchp");
    let op = match &cmd[..] {
        "srst" => OpsCmd::ResetServer,
        "crst" => OpsCmd::ResetConns,
        "hash" => OpsCmd::Digests,
        _ if detailed => OpsCmd::Detailed,
        _ => OpsCmd::Facts,
    };
    let needs_core = matches!(
        &cmd[..],
        "cons"
            | "crst"
            | "isro"
            | "dump"
            | "hash"
            | "mntr"
            | "srst"
            | "srvr"
            | "stat"
            | "wchc"
            | "wchp"
            | "wchs"
    );
    // conf reads the membership, which a reconfig changes: the core has the current one.
    let f = if needs_core || (cmd == "conf" && cfg.is_distributed()) {
        match facts(core, op).await {
            Some(f) => f,
            None => return String::new(),
        }
    } else {
        Facts::default()
    };
    let live = f.config.clone();
    let cfg: &Config = live.as_deref().unwrap_or(cfg);
    if cmd == "isro" {
        return isro(&f).to_string();
    }
    // NIOServerCnxn's answer while the ZooKeeperServer is not running (electing, syncing).
    if needs_core && f.server_state.is_empty() {
        return "This ZooKeeper instance is not currently serving requests\n".to_string();
    }
    match &cmd[..] {
        "ruok" => "imok".to_string(),
        "srvr" => srvr(&f, peer),
        "stat" => stat(&f, peer),
        "cons" => cons(&f, peer),
        "crst" => "Connection stats reset.\n".to_string(),
        "srst" => "Server stats reset.\n".to_string(),
        "dirs" => {
            let (d, l) = envinfo::dir_sizes(cfg);
            format!("datadir_size: {d}\nlogdir_size: {l}\n")
        }
        "dump" => dump(&f, peer, cfg),
        "envi" => envi(),
        "conf" => conf(cfg),
        "gtmk" => TRACE_MASK.load(Ordering::Relaxed).to_string(),
        // ZooKeeper reads the new mask as 8 more bytes; without them it answers nothing.
        "stmk" => String::new(),
        "hash" => hash(&f),
        "mntr" => {
            let mut out = String::new();
            for (k, _, v) in mntr::values(&f, cfg, usize::from(peer.is_some())) {
                let _ = writeln!(out, "zk_{k}\t{v}");
            }
            out
        }
        "wchs" => {
            let (c, p, t) = f.watch_summary;
            format!("{c} connections watching {p} paths\nTotal watches:{t}\n")
        }
        "wchc" => {
            let mut out = String::new();
            for (sid, paths) in &f.watches_by_session {
                let _ = writeln!(out, "0x{sid:x}");
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
            out.push('\n');
            out
        }
        "wchp" => {
            let mut out = String::new();
            for (path, sids) in &f.watches_by_path {
                let _ = writeln!(out, "{path}");
                for s in sids {
                    let _ = writeln!(out, "\t0x{s:x}");
                }
            }
            out.push('\n');
            out
        }
        _ => String::new(),
    }
}

/// `isro` (IsroCommand): `null` while no server runs (electing, syncing), `ro` from a
/// read-only server, `rw` otherwise. kazoo's and the Java client's read-only sessions ask
/// it to find a server to move to.
pub(crate) fn isro(f: &Facts) -> &'static str {
    match f.server_state {
        "" => "null",
        "read-only" => "ro",
        _ => "rw",
    }
}

/// `hash` (DigestCommand): the digest log, oldest first, one `zxid: digest` line each, the
/// zxid in hex without 0x (Long.toHexString) and the digest as a signed decimal long.
pub(crate) fn hash(f: &Facts) -> String {
    let mut out = String::new();
    for d in &f.digests {
        let _ = writeln!(out, "{:x}: {}", d.zxid, d.digest);
    }
    out
}

/// `srvr` (and the tail of `stat`).
pub(crate) fn srvr(f: &Facts, peer: Option<SocketAddr>) -> String {
    let l = &f.latency;
    format!(
        "Zookeeper version: {VERSION}, built on {BUILT}\nLatency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: 0\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
        l.min,
        mntr::java_double(l.avg()),
        l.max,
        f.packets_received,
        f.packets_sent,
        f.conns.len() + usize::from(peer.is_some()),
        f.zxid,
        f.server_state,
        f.node_count
    ) + &proposal_sizes_line(f)
}

/// A leader's `srvr`/`stat` end with its proposal sizes (Leader.getProposalStats).
fn proposal_sizes_line(f: &Facts) -> String {
    match f.quorum.as_ref().and_then(|q| q.leading.as_ref()) {
        Some(l) if f.server_state == "leader" => {
            let (last, min, max) = l.proposal_sizes;
            format!("Proposal sizes last/min/max: {last}/{min}/{max}\n")
        }
        _ => String::new(),
    }
}

fn stat(f: &Facts, peer: Option<SocketAddr>) -> String {
    let mut out = format!("Zookeeper version: {VERSION}, built on {BUILT}\nClients:\n");
    if let Some(p) = peer {
        let _ = writeln!(out, " /{p}[0](queued=0,recved=1,sent=0)");
    }
    for c in &f.conns {
        let _ = writeln!(
            out,
            " /{}[1](queued=0,recved={},sent={})",
            c.addr, c.received, c.sent
        );
    }
    out.push('\n');
    let full = srvr(f, peer);
    out.push_str(full.split_once('\n').map_or("", |x| x.1));
    out
}

/// One `cons` line, as ServerCnxn.dumpConnectionInfo prints it.
pub fn cons_line(c: &ConnFact) -> String {
    let s = &c.stats;
    let mut out = format!(
        " /{}[1](queued=0,recved={},sent={}",
        c.addr, c.received, c.sent
    );
    if c.session_id != 0 {
        let _ = write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            c.session_id, s.last_op, s.established_ms, s.timeout_ms
        );
        if s.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{:x}", s.last_cxid);
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            s.last_zxid,
            s.last_response_ms,
            s.last_latency,
            s.latency.min,
            s.latency.sum.checked_div(s.latency.count).unwrap_or(0),
            s.latency.max
        );
    }
    out.push(')');
    out
}

fn cons(f: &Facts, peer: Option<SocketAddr>) -> String {
    let mut out = String::new();
    if let Some(p) = peer {
        let _ = writeln!(out, " /{p}[0](queued=0,recved=1,sent=0)");
    }
    for c in &f.conns {
        out.push_str(&cons_line(c));
        out.push('\n');
    }
    out.push('\n');
    out
}

fn dump(f: &Facts, peer: Option<SocketAddr>, cfg: &Config) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    let n: usize = f.session_expiry.values().map(Vec::len).sum();
    let _ = writeln!(out, "Session Sets ({})/({n}):", f.session_expiry.len());
    for (at, ids) in &f.session_expiry {
        let _ = writeln!(out, "{} expire at {}:", ids.len(), envinfo::java_date(*at));
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", f.ephemerals.len());
    for (sid, paths) in &f.ephemerals {
        let _ = writeln!(out, "0x{sid:x}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    // Connections by expiry: the asking one expires like a sessionless connection.
    let now = crate::server::clock::wall_ms();
    let mut by_time: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    if let Some(p) = peer {
        let at = now + i64::try_from(cfg.tick_time_ms).unwrap_or(2000) * 10;
        by_time
            .entry(at)
            .or_default()
            .push(format!("ip: /{p} sessionId: 0x0"));
    }
    for c in &f.conns {
        let at = now + i64::from(c.stats.timeout_ms);
        by_time
            .entry(at)
            .or_default()
            .push(format!("ip: /{} sessionId: 0x{:x}", c.addr, c.session_id));
    }
    out.push_str("Connections dump:\n");
    let total: usize = by_time.values().map(Vec::len).sum();
    let _ = writeln!(out, "Connections Sets ({})/({total}):", by_time.len());
    for (at, lines) in &by_time {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            lines.len(),
            envinfo::java_date(*at)
        );
        for l in lines {
            let _ = writeln!(out, "\t{l}");
        }
    }
    out
}

/// `envi`: ZooKeeper's environment listing; kazoo reads the version from it.
fn envi() -> String {
    let mut out = String::from("Environment:\n");
    for (k, v) in envinfo::environment() {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

/// `conf`: the serving configuration; a quorum member adds QuorumZooKeeperServer.dumpConf's
/// lines and its membership (QuorumVerifier.toString, which ends without a newline).
pub(crate) fn conf(cfg: &Config) -> String {
    let mut out = String::new();
    for (k, v) in envinfo::conf_entries(cfg) {
        let _ = writeln!(out, "{k}={v}");
    }
    if cfg.is_distributed() {
        out.push_str(&envinfo::quorum_conf(cfg));
    }
    out
}
