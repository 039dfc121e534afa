//! Environment, configuration and directory facts for `envi`, `conf`, `dirs` and their
//! AdminServer twins, in ZooKeeper's key names and formats.

use std::path::Path;

use crate::config::Config;
use crate::server::fourlw::{BUILT, VERSION};

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// (total, available) memory of the machine in MB, from /proc/meminfo.
fn memory_mb() -> (u64, u64) {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// The `envi` entries, in ZooKeeper's order (Java-only facts are `<NA>`).
pub fn environment() -> Vec<(&'static str, String)> {
    let host = read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into());
    let os_version = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let home = std::env::var("HOME").unwrap_or_default();
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let exe = std::env::current_exe()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let arch = if cfg!(target_arch = "x86_64") {
        "amd64"
    } else {
        std::env::consts::ARCH
    };
    let (total, avail) = memory_mb();
    vec![
        ("zookeeper.version", format!("{VERSION}, built on {BUILT}")),
        ("host.name", host),
        ("java.version", "<NA>".into()),
        ("java.vendor", "<NA>".into()),
        ("java.home", "<NA>".into()),
        ("java.class.path", exe),
        ("java.library.path", "<NA>".into()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", "<NA>".into()),
        ("os.name", "Linux".into()),
        ("os.arch", arch.into()),
        ("os.version", os_version),
        ("user.name", user),
        ("user.home", home),
        ("user.dir", dir),
        ("os.memory.free", format!("{avail}MB")),
        ("os.memory.max", format!("{total}MB")),
        ("os.memory.total", format!("{total}MB")),
    ]
}

/// Bytes of the regular files under `dir` (recursively).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// (data dir size, log dir size) as `dirs` reports them (their `version-2` directories).
pub fn dir_sizes(cfg: &Config) -> (u64, u64) {
    (
        dir_size(&cfg.data_dir.join("version-2")).max(dir_size(&cfg.data_dir)),
        dir_size(&cfg.effective_data_log_dir().join("version-2"))
            .max(dir_size(cfg.effective_data_log_dir())),
    )
}

/// The `conf` entries, in ZooKeeper's order.
pub fn conf_entries(cfg: &Config) -> Vec<(&'static str, String)> {
    let (data_size, log_size) = dir_sizes(cfg);
    vec![
        ("clientPort", cfg.client_port.to_string()),
        ("secureClientPort", "-1".into()),
        (
            "dataDir",
            cfg.data_dir.join("version-2").display().to_string(),
        ),
        ("dataDirSize", data_size.to_string()),
        (
            "dataLogDir",
            cfg.effective_data_log_dir()
                .join("version-2")
                .display()
                .to_string(),
        ),
        ("dataLogSize", log_size.to_string()),
        ("tickTime", cfg.tick_time_ms.to_string()),
        ("maxClientCnxns", cfg.max_client_cnxns.to_string()),
        ("minSessionTimeout", cfg.min_session_timeout_ms.to_string()),
        ("maxSessionTimeout", cfg.max_session_timeout_ms.to_string()),
        ("clientPortListenBacklog", "-1".into()),
        ("serverId", cfg.my_id.unwrap_or(0).to_string()),
    ]
}

/// A host as QuorumServer.delimitedHostString writes it: IPv6 in brackets.
pub fn delimited_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A `server.N` line as QuorumServer.toString writes it:
/// `host:quorumPort:electionPort:participant|observer[;clientHost:clientPort]`.
pub fn server_line(s: &crate::config::ServerSpec) -> String {
    let mut out = format!(
        "{}:{}:{}:{}",
        delimited_host(&s.host),
        s.quorum_port,
        s.election_port,
        if s.observer {
            "observer"
        } else {
            "participant"
        }
    );
    if let Some(c) = &s.client_addr {
        out.push(';');
        out.push_str(c);
    }
    out
}

/// QuorumZooKeeperServer.dumpConf's lines after the server's own: limits, election
/// algorithm, this member's ports and type, then `membership: ` and the quorum verifier
/// (`server.N=...` lines and `version=` in hex, without a final newline; a static
/// configuration's version is 0).
/// A server a reconfig removed still shows its own ports.
pub fn quorum_conf(cfg: &Config) -> String {
    let me = cfg
        .my_id
        .and_then(|id| cfg.servers.get(&id))
        .or(cfg.my_server.as_ref());
    let mut out = format!(
        "initLimit={}\nsyncLimit={}\nelectionAlg=3\nelectionPort={}\nquorumPort={}\npeerType={}\nmembership: \n",
        cfg.init_limit,
        cfg.sync_limit,
        me.map_or(0, |s| s.election_port),
        me.map_or(0, |s| s.quorum_port),
        u8::from(me.is_some_and(|s| s.observer)),
    );
    for (sid, s) in &cfg.servers {
        out.push_str(&format!("server.{sid}={}\n", server_line(s)));
    }
    out.push_str(&format!("version={:x}", cfg.config_version));
    out
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A wall-clock ms time as Java's `Date.toString` prints it in UTC
/// (`Wed Nov 25 10:31:00 UTC 2026`).
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_dates() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_795_602_660_000), "Wed Nov 25 10:31:00 UTC 2026");
    }
}
