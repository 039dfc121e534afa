//! Four-letter words on the client port (the full set and formats belong to the operations
//! work; this answers the common probes).

use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::server::core::{CoreMsg, ServerStats};

/// The version string reported to operators.
pub const VERSION: &str = concat!("3.8.0-ferrokeeper-", env!("CARGO_PKG_VERSION"));

async fn stats(core: &mpsc::Sender<CoreMsg>) -> ServerStats {
    let (tx, rx) = oneshot::channel();
    if core.send(CoreMsg::Stats { reply: tx }).await.is_err() {
        return ServerStats::default();
    }
    rx.await.unwrap_or_default()
}

fn srvr(s: &ServerStats) -> String {
    let (min, sum, count, max) = s.latency;
    let avg = if count == 0 {
        0.0
    } else {
        sum as f64 / count as f64
    };
    // ZooKeeper's node count includes the root twice (stored as "" and "/").
    format!(
        "Zookeeper version: {VERSION}, built on 1970-01-01 00:00 UTC\nLatency min/avg/max: {min}/{avg:.1}/{max}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: 0\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
        s.packets_received,
        s.packets_sent,
        s.connections,
        s.zxid,
        s.node_count + 1
    )
}

/// The text answer to a four-letter word.
pub async fn answer(word: &[u8; 4], cfg: &Config, core: &mpsc::Sender<CoreMsg>) -> String {
    let cmd = String::from_utf8_lossy(word).to_string();
    if !cfg.four_letter_word_enabled(&cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    match &cmd[..] {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        "srvr" => srvr(&stats(core).await),
        "stat" => {
            let s = stats(core).await;
            let mut out =
                format!("Zookeeper version: {VERSION}, built on 1970-01-01 00:00 UTC\nClients:\n");
            for c in &s.conns {
                out.push_str(c);
                out.push('\n');
            }
            out.push('\n');
            let full = srvr(&s);
            out.push_str(full.split_once('\n').map_or("", |x| x.1));
            out
        }
        "wchs" => {
            let s = stats(core).await;
            format!(
                "{} connections watching {} paths\nTotal watches:{}\n",
                s.connections, 0, s.watch_count
            )
        }
        "mntr" => {
            let s = stats(core).await;
            format!(
                "zk_version\t{VERSION}\nzk_server_state\tstandalone\nzk_znode_count\t{}\nzk_watch_count\t{}\nzk_ephemerals_count\t{}\nzk_approximate_data_size\t{}\nzk_num_alive_connections\t{}\nzk_outstanding_requests\t0\nzk_packets_received\t{}\nzk_packets_sent\t{}\n",
                s.node_count + 1,
                s.watch_count,
                s.ephemerals_count,
                s.approximate_data_size,
                s.connections,
                s.packets_received,
                s.packets_sent
            )
        }
        "envi" => envi(),
        "conf" => conf(cfg),
        _ => String::new(),
    }
}

/// `envi`: ZooKeeper's environment listing; kazoo reads the version from it.
fn envi() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let os_version = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let home = std::env::var("HOME").unwrap_or_default();
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let exe = std::env::current_exe()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    format!(
        "Environment:\nzookeeper.version={VERSION}, built on 1970-01-01 00:00 UTC\nhost.name={host}\njava.version=<NA>\njava.vendor=<NA>\njava.home=<NA>\njava.class.path={exe}\njava.library.path=<NA>\njava.io.tmpdir={}\njava.compiler=<NA>\nos.name=Linux\nos.arch={}\nos.version={os_version}\nuser.name={user}\nuser.home={home}\nuser.dir={dir}\n",
        std::env::temp_dir().display(),
        if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH },
    )
}

/// `conf`: the serving configuration.
fn conf(cfg: &Config) -> String {
    let data = cfg.data_dir.join("version-2");
    let log = cfg.effective_data_log_dir().join("version-2");
    format!(
        "clientPort={}\nsecureClientPort=-1\ndataDir={}\ndataDirSize=0\ndataLogDir={}\ndataLogSize=0\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
        cfg.client_port,
        data.display(),
        log.display(),
        cfg.tick_time_ms,
        cfg.max_client_cnxns,
        cfg.min_session_timeout_ms,
        cfg.max_session_timeout_ms,
        cfg.my_id.unwrap_or(0)
    )
}
