//! Leader election in a mixed ensemble: two Apache ZooKeeper 3.8 servers (Debian's
//! `zookeeper` package) and the Rust election port as the third member of the same
//! 3-server view, all on 127.0.0.1.
//!
//! Skips (printing why, and passing) when `java` or the ZooKeeper jars under
//! /usr/share/java are missing; CI installs them. Every Java process a test starts is
//! killed when the test ends, pass or fail.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokeeper::config::Config;
use ferrokeeper::quorum::election::Timing;
use ferrokeeper::quorum::transport::election::{run_election, Decided, ElectionPort};
use ferrokeeper::quorum::{ServerState, Sid, Zxid};

const JAVA_DIR: &str = "/usr/share/java";
/// The jars QuorumPeerMain needs (zkEnv.sh relies on zookeeper.jar's manifest; naming them
/// keeps the classpath explicit), with slf4j-simple so the log goes to stderr.
const JARS: &[&str] = &[
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
const WAIT: Duration = Duration::from_secs(120);

/// One Java ensemble at a time: four JVMs at once would starve the machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The classpath, or why the test cannot run here.
fn java_classpath() -> Result<String, String> {
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

struct Ports {
    quorum: u16,
    election: u16,
    client: u16,
}

/// A 3-server view on loopback with ports free right now.
fn free_ports(sids: &[u64]) -> BTreeMap<u64, Ports> {
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
struct Ensemble {
    dir: PathBuf,
    ports: BTreeMap<u64, Ports>,
    observers: Vec<u64>,
    java: BTreeMap<u64, Child>,
}

impl Ensemble {
    fn new(name: &str, sids: &[u64]) -> Ensemble {
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
    fn with_observers(mut self, sids: &[u64]) -> Ensemble {
        self.observers = sids.to_vec();
        self
    }

    /// Write `N/zoo.cfg` and `N/data/myid` for server `sid`; returns the zoo.cfg path.
    fn write_config(&self, sid: u64) -> PathBuf {
        let home = self.dir.join(sid.to_string());
        let data = home.join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::write(data.join("myid"), format!("{sid}\n")).expect("myid");
        let mut cfg = format!(
            "tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
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

    fn log_path(&self, sid: u64) -> PathBuf {
        self.dir.join(sid.to_string()).join("server.log")
    }

    fn start_java(&mut self, sid: u64, classpath: &str) {
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

    fn rust_config(&self, sid: u64) -> Config {
        Config::load(Some(&self.write_config(sid)), &[]).expect("config")
    }

    fn log(&self, sid: u64) -> String {
        std::fs::read_to_string(self.log_path(sid)).unwrap_or_default()
    }

    /// The `Mode:` line of a Java server's `srvr` answer, if it answers.
    fn mode(&self, sid: u64) -> Option<String> {
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

    /// Print the Java logs' tails: what a failure needs.
    fn dump(&self) {
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

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrokeeper::quorum=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Poll `f` until it answers or `WAIT` passes.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Run the Rust election for `sid` of `ens` in the background; the port comes back with
/// the decision so that it keeps answering.
fn spawn_rust(
    ens: &Ensemble,
    sid: u64,
) -> tokio::task::JoinHandle<Result<(Decided, ElectionPort), String>> {
    let cfg = ens.rust_config(sid);
    tokio::spawn(async move {
        run_election(&cfg, Zxid(0), 0)
            .await
            .map_err(|e| e.to_string())
    })
}

async fn rust_decision(
    h: tokio::task::JoinHandle<Result<(Decided, ElectionPort), String>>,
) -> (Decided, ElectionPort) {
    tokio::time::timeout(WAIT, h)
        .await
        .expect("the Rust server decided in time")
        .expect("the election task ran")
        .expect("the election port started")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_lowest_sid_follows_the_java_leader() {
    let classpath = match java_classpath() {
        Ok(cp) => cp,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let _serial = SERIAL.lock().await;
    init_tracing();
    let mut ens = Ensemble::new("lowest", &[1, 2, 3]);
    let rust = spawn_rust(&ens, 1);
    ens.start_java(2, &classpath);
    ens.start_java(3, &classpath);

    let (decided, _port) = rust_decision(rust).await;
    let modes = eventually("srvr Mode: leader and follower", || {
        let modes = (ens.mode(2)?, ens.mode(3)?);
        let serving = |m: &str| m == "leader" || m == "follower";
        (serving(&modes.0) && serving(&modes.1)).then_some(modes)
    })
    .await;
    let java_leader = if modes.0 == "leader" { 2 } else { 3 };
    assert_ne!(modes.0, modes.1, "one leader, one follower: {modes:?}");
    eprintln!(
        "Java modes: 2 {}, 3 {}; Rust decided {decided:?}",
        modes.0, modes.1
    );
    assert_eq!(decided.state, ServerState::Following);
    // Which Java server leads depends on who met whom first (with equal, empty histories,
    // the Rust vote and the first Java server's can make a quorum before the second one
    // is up); the Rust node must follow whichever it is.
    assert_eq!(decided.leader, Sid(java_leader));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_highest_sid_leads_the_java_servers() {
    let classpath = match java_classpath() {
        Ok(cp) => cp,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let _serial = SERIAL.lock().await;
    init_tracing();
    let mut ens = Ensemble::new("highest", &[1, 2, 3]);
    // The Rust server is up and connected to 1 before 2 starts, so that 1 and 2 cannot
    // settle on 2 between themselves before they hear of 3.
    let mut port = ElectionPort::start(&ens.rust_config(3), Zxid(0), 0, Timing::default())
        .await
        .expect("the election port started");
    ens.start_java(1, &classpath);
    eventually("Java 1 connected to the Rust server", || {
        port.connected_to(Sid(1)).then_some(())
    })
    .await;
    ens.start_java(2, &classpath);

    let decided = tokio::time::timeout(WAIT, port.decided())
        .await
        .expect("the Rust server decided in time")
        .expect("the election driver runs");
    eprintln!("Rust decided {decided:?}");
    assert_eq!(
        (decided.state, decided.leader),
        (ServerState::Leading, Sid(3))
    );
    // The Rust server decided LEADING on a quorum of votes naming 3: Java 1's among them.
    // Java 2 may decide without ever sending such a vote (answers from servers already
    // LEADING or FOLLOWING settle it without a new round of notifications), so its own
    // log is the proof for it, below.
    let mut heard = port.heard();
    let votes = tokio::time::timeout(
        WAIT,
        heard.wait_for(|m| m.get(&Sid(1)).is_some_and(|n| n.leader == Sid(3))),
    )
    .await
    .expect("Java 1 votes for 3 in time")
    .expect("driver running")
    .clone();
    for (sid, n) in &votes {
        eprintln!(
            "Java {}: {:?}, leader {}, round {}, zxid {:#x}, peer epoch {}",
            sid.0, n.state, n.leader.0, n.election_epoch, n.zxid.0, n.peer_epoch
        );
    }
    // And the Java servers say so themselves: each logged its own vote for 3 (a server
    // logs the notification it sends itself) and left the election as a follower
    // (Learner logs this when lookForLeader returns FOLLOWING).
    for sid in [1u64, 2] {
        let own_vote = format!("n.sid:{sid}, n.state:LOOKING, n.leader:3,");
        eventually("the Java log shows its vote for 3 and FOLLOWING", || {
            let log = ens.log(sid);
            (log.contains(&own_vote) && log.contains("FOLLOWING - LEADER ELECTION TOOK"))
                .then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_observer_observes_the_java_leader() {
    let classpath = match java_classpath() {
        Ok(cp) => cp,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let _serial = SERIAL.lock().await;
    init_tracing();
    // Two Java voters and the Rust server as an observer: it never votes, and the voters
    // answer its notifications at once with their current vote (WorkerReceiver's
    // non-voter reply), which it follows once they have a leader.
    let mut ens = Ensemble::new("observer", &[1, 2, 3]).with_observers(&[3]);
    ens.start_java(1, &classpath);
    ens.start_java(2, &classpath);
    let rust = spawn_rust(&ens, 3);

    let (decided, port) = rust_decision(rust).await;
    let modes = eventually("srvr Mode: leader and follower", || {
        let modes = (ens.mode(1)?, ens.mode(2)?);
        let serving = |m: &str| m == "leader" || m == "follower";
        (serving(&modes.0) && serving(&modes.1)).then_some(modes)
    })
    .await;
    eprintln!(
        "Java modes: 1 {}, 2 {}; Rust decided {decided:?}",
        modes.0, modes.1
    );
    let java_leader = if modes.0 == "leader" { 1 } else { 2 };
    assert_eq!(
        (decided.state, decided.leader),
        (ServerState::Observing, Sid(java_leader))
    );
    // The voters never counted the observer: neither names 3 in what it sent.
    let heard = port.heard().borrow().clone();
    assert!(heard.values().all(|n| n.leader != Sid(3)), "{heard:?}");
}
