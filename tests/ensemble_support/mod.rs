//! Shared helpers for the mixed-ensemble tests: Apache ZooKeeper 3.8 servers from
//! Debian's jars on loopback, with a Drop guard that kills them.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokeeper::config::Config;

pub const JAVA_DIR: &str = "/usr/share/java";
/// The jars QuorumPeerMain needs (zkEnv.sh relies on zookeeper.jar's manifest; naming them
/// keeps the classpath explicit), with slf4j-simple so the log goes to stderr.
pub const JARS: &[&str] = &[
    "zookeeper",
    "zookeeper-jute",
    "slf4j-api",
    "slf4j-simple",
    "netty-buffer",
    "netty-common",
    "netty-handler",
    "netty-transport",
    "netty-transport-native-unix-common",
    "netty-transport-native-epoll",
    "netty-resolver",
    "netty-codec",
    "commons-cli",
    "commons-io",
    "metrics-core",
    "snappy-java",
    "jackson-databind",
    "jackson-core",
    "jackson-annotations",
];
/// JVM start, election and Zab sync on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(120);

/// One Java ensemble at a time: four JVMs at once would starve the machine.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Java classpath, or return from the calling test with the reason printed: a machine
/// without Debian's ZooKeeper jars or a JVM skips the mixed-ensemble tests (CI installs both).
macro_rules! java_or_skip {
    () => {
        match $crate::ensemble_support::java_classpath() {
            Ok(cp) => cp,
            Err(why) => {
                eprintln!("skipping: {why}");
                return;
            }
        }
    };
}

/// The classpath, or why the test cannot run here.
pub fn java_classpath() -> Result<String, String> {
    match Command::new("java").arg("-version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("`java -version` failed: {}", out.status)),
        Err(e) => return Err(format!("no java: {e}")),
    }
    let mut cp = Vec::new();
    for jar in JARS {
        let path = Path::new(JAVA_DIR).join(format!("{jar}.jar"));
        if path.exists() {
            cp.push(path.display().to_string());
        } else if *jar == "zookeeper" {
            return Err(format!("{} is missing", path.display()));
        }
    }
    Ok(cp.join(":"))
}

pub struct Ports {
    pub quorum: u16,
    pub election: u16,
    pub client: u16,
}

/// A 3-server view on loopback with ports free right now.
pub fn free_ports(sids: &[u64]) -> BTreeMap<u64, Ports> {
    let listeners: Vec<TcpListener> = (0..sids.len() * 3)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().expect("addr").port();
    sids.iter()
        .enumerate()
        .map(|(i, &sid)| {
            let p = Ports {
                quorum: port(3 * i),
                election: port(3 * i + 1),
                client: port(3 * i + 2),
            };
            (sid, p)
        })
        .collect()
}

/// The ensemble's files, and the Java servers it started; dropping it kills them and
/// removes the files (kept, with the logs, when the test failed).
pub struct Ensemble {
    pub dir: PathBuf,
    pub ports: BTreeMap<u64, Ports>,
    pub observers: Vec<u64>,
    pub java: BTreeMap<u64, Child>,
}

impl Ensemble {
    pub fn new(name: &str, sids: &[u64]) -> Ensemble {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("fk-election-{name}-{}-{nanos}", std::process::id()));
        Ensemble {
            dir,
            ports: free_ports(sids),
            observers: Vec::new(),
            java: BTreeMap::new(),
        }
    }

    /// Make `sids` observers (`server.N=...:observer`, and `peerType=observer` in their
    /// own zoo.cfg).
    pub fn with_observers(mut self, sids: &[u64]) -> Ensemble {
        self.observers = sids.to_vec();
        self
    }

    /// Write `N/zoo.cfg` and `N/data/myid` for server `sid`; returns the zoo.cfg path.
    pub fn write_config(&self, sid: u64) -> PathBuf {
        let home = self.dir.join(sid.to_string());
        let data = home.join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::write(data.join("myid"), format!("{sid}\n")).expect("myid");
        let mut cfg = format!(
            "tickTime=1000\ninitLimit=30\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             4lw.commands.whitelist=*\n",
            data.display(),
            self.ports[&sid].client
        );
        for (s, p) in &self.ports {
            let role = if self.observers.contains(s) {
                ":observer"
            } else {
                ""
            };
            cfg.push_str(&format!(
                "server.{s}=127.0.0.1:{}:{}{role}\n",
                p.quorum, p.election
            ));
        }
        if self.observers.contains(&sid) {
            cfg.push_str("peerType=observer\n");
        }
        let path = home.join("zoo.cfg");
        std::fs::write(&path, cfg).expect("zoo.cfg");
        path
    }

    pub fn log_path(&self, sid: u64) -> PathBuf {
        self.dir.join(sid.to_string()).join("server.log")
    }

    pub fn start_java(&mut self, sid: u64, classpath: &str) {
        let cfg = self.write_config(sid);
        let log = File::create(self.log_path(sid)).expect("log");
        let child = Command::new("java")
            .args([
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                classpath,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn java");
        self.java.insert(sid, child);
    }

    pub fn rust_config(&self, sid: u64) -> Config {
        Config::load(Some(&self.write_config(sid)), &[]).expect("config")
    }

    pub fn log(&self, sid: u64) -> String {
        std::fs::read_to_string(self.log_path(sid)).unwrap_or_default()
    }

    /// The `Mode:` line of a Java server's `srvr` answer, if it answers.
    pub fn mode(&self, sid: u64) -> Option<String> {
        let addr = format!("127.0.0.1:{}", self.ports[&sid].client);
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    }

    /// Kill Java server `sid` (as a crash would).
    pub fn stop_java(&mut self, sid: u64) {
        if let Some(mut child) = self.java.remove(&sid) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `127.0.0.1:<clientPort>` of server `sid`.
    pub fn client_addr(&self, sid: u64) -> String {
        format!("127.0.0.1:{}", self.ports[&sid].client)
    }

    /// Print the Java logs' tails: what a failure needs.
    pub fn dump(&self) {
        for sid in self.java.keys() {
            let log = self.log(sid.to_owned());
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("---- server {sid} log (last 60 lines) ----");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for child in self.java.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            self.dump();
            eprintln!("ensemble files kept in {}", self.dir.display());
        } else if std::env::var_os("FK_KEEP_ENSEMBLE").is_some() {
            eprintln!("ensemble files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrokeeper::quorum=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Poll `f` until it answers or `WAIT` passes.
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
