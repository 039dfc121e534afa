//! `ferrokeeper cli`: a scripted session against an in-process server, every zkCli command,
//! output checked (one-shot mode for exact output, a piped session for watches and sessions).

use std::io::Write;
use std::process::{Command, Stdio};

use ferrokeeper::config::Config;
use ferrokeeper::server::Server;

async fn start() -> String {
    let mut cfg = Config::default_standalone();
    cfg.client_port = 0;
    cfg.admin_enable_server = false;
    cfg.extended_types_enabled = true;
    let server = Server::bind_in_memory(cfg).await.expect("bind");
    let addr = server.local_addr().expect("addr").to_string();
    tokio::spawn(server.run());
    addr
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn cli(addr: &str, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .args(["cli", "-server", addr])
        .args(args)
        .output()
        .expect("run cli");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command that must succeed; returns its stdout.
fn ok(addr: &str, args: &[&str]) -> String {
    let o = cli(addr, args);
    assert!(o.ok, "{args:?} failed: {}", o.stderr);
    o.stdout
}

/// Runs a command that must fail; returns its stderr.
fn fails(addr: &str, args: &[&str]) -> String {
    let o = cli(addr, args);
    assert!(!o.ok, "{args:?} should fail, printed {}", o.stdout);
    o.stderr
}

fn session(addr: &str, script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .args(["cli", "-server", addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("wait");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stat_field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_commands() {
    let addr = start().await;
    let a = addr.as_str();
    tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || run_one_shot(&addr)
    })
    .await
    .unwrap();
    let _ = a;
}

fn run_one_shot(a: &str) {
    // create, its flags and its errors
    assert_eq!(ok(a, &["create", "/t", "root"]), "Created /t\n");
    assert_eq!(ok(a, &["create", "/t/a", "hello"]), "Created /t/a\n");
    assert_eq!(ok(a, &["create", "/t/a/c1", "c1"]), "Created /t/a/c1\n");
    assert_eq!(ok(a, &["create", "/t/a/c2"]), "Created /t/a/c2\n");
    assert_eq!(
        ok(a, &["create", "-s", "/t/seq-", "s"]),
        "Created /t/seq-0000000001\n"
    );
    assert_eq!(ok(a, &["create", "-c", "/t/cont"]), "Created /t/cont\n");
    assert_eq!(
        ok(a, &["create", "-t", "600000", "/t/ttl", "x"]),
        "Created /t/ttl\n"
    );
    assert_eq!(ok(a, &["create", "-e", "/t/eph", "e"]), "Created /t/eph\n");
    assert_eq!(ok(a, &["create", "/t/sp", "a b c"]), "Created /t/sp\n");
    assert_eq!(
        fails(a, &["create", "/t/a", "x"]),
        "Node already exists: /t/a\n"
    );
    assert_eq!(
        fails(a, &["create", "/t/no/x"]),
        "Node does not exist: /t/no/x\n"
    );
    assert_eq!(
        fails(a, &["create", "-e", "-t", "10", "/t/x"]),
        "TTLs cannot be used with Ephemeral znodes\n"
    );
    assert_eq!(
        fails(a, &["create", "rel"]),
        "Path must start with / character\n"
    );
    // ls
    assert_eq!(ok(a, &["ls", "/t"]), "[a, cont, seq-0000000001, sp, ttl]\n");
    let ls_s = ok(a, &["ls", "-s", "/t/a"]);
    assert!(ls_s.starts_with("[c1, c2]\ncZxid = 0x"), "{ls_s}");
    assert_eq!(stat_field(&ls_s, "numChildren"), "2");
    assert_eq!(ok(a, &["ls", "-R", "/t/a"]), "/t/a\n/t/a/c1\n/t/a/c2\n");
    assert_eq!(fails(a, &["ls", "/nope"]), "Node does not exist: /nope\n");
    // get, stat
    assert_eq!(ok(a, &["get", "/t/a"]), "hello\n");
    assert_eq!(ok(a, &["get", "/t/sp"]), "a b c\n");
    assert_eq!(ok(a, &["get", "/t/a/c2"]), "null\n");
    let get_s = ok(a, &["get", "-s", "/t/a"]);
    assert!(get_s.starts_with("hello\ncZxid = 0x"), "{get_s}");
    let st = ok(a, &["stat", "/t/a"]);
    let lines: Vec<&str> = st.lines().map(|l| l.split(" = ").next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "cZxid",
            "ctime",
            "mZxid",
            "mtime",
            "pZxid",
            "cversion",
            "dataVersion",
            "aclVersion",
            "ephemeralOwner",
            "dataLength",
            "numChildren"
        ]
    );
    let ctime = stat_field(&st, "ctime");
    assert!(
        ctime.ends_with(" UTC 2026") || ctime.contains(" UTC "),
        "{ctime}"
    );
    assert_eq!(ctime.split(' ').count(), 6, "{ctime}");
    assert_eq!(stat_field(&st, "ephemeralOwner"), "0x0");
    assert_eq!(stat_field(&st, "dataLength"), "5");
    assert_eq!(fails(a, &["stat", "/nope"]), "Node does not exist: /nope\n");
    // set
    assert_eq!(ok(a, &["set", "/t/a", "v1"]), "");
    assert_eq!(
        stat_field(
            &ok(a, &["set", "-s", "-v", "1", "/t/a", "v2"]),
            "dataVersion"
        ),
        "2"
    );
    assert_eq!(
        fails(a, &["set", "-v", "1", "/t/a", "x"]),
        "version No is not valid : /t/a\n"
    );
    assert_eq!(
        fails(a, &["set", "/nope", "x"]),
        "Node does not exist: /nope\n"
    );
    // delete, deleteall
    assert_eq!(fails(a, &["delete", "/t/a"]), "Node not empty: /t/a\n");
    assert_eq!(
        fails(a, &["delete", "-v", "3", "/t/sp"]),
        "version No is not valid : /t/sp\n"
    );
    assert_eq!(ok(a, &["delete", "-v", "0", "/t/sp"]), "");
    assert_eq!(
        fails(a, &["delete", "/t/sp"]),
        "Node does not exist: /t/sp\n"
    );
    ok(a, &["create", "/t/d"]);
    ok(a, &["create", "/t/d/x"]);
    ok(a, &["create", "/t/d/x/y"]);
    assert_eq!(ok(a, &["getAllChildrenNumber", "/t/d"]), "2\n");
    assert_eq!(ok(a, &["deleteall", "/t/d"]), "");
    assert_eq!(
        fails(a, &["deleteall", "/t/d"]),
        "Node does not exist: /t/d\n"
    );
    assert_eq!(ok(a, &["getAllChildrenNumber", "/t"]), "6\n");
    // ACLs
    assert_eq!(ok(a, &["getAcl", "/t/a"]), "'world,'anyone\n: cdrwa\n");
    let acl_s = ok(a, &["getAcl", "-s", "/t/a"]);
    assert!(
        acl_s.starts_with("'world,'anyone\n: cdrwa\ncZxid = "),
        "{acl_s}"
    );
    ok(a, &["create", "/t/r", "x", "world:anyone:r"]);
    assert_eq!(ok(a, &["getAcl", "/t/r"]), "'world,'anyone\n: r\n");
    assert_eq!(
        fails(a, &["set", "/t/r", "y"]),
        "Insufficient permission : /t/r\n"
    );
    assert_eq!(
        fails(a, &["setAcl", "-v", "5", "/t/a", "world:anyone:cdrwa"]),
        "version No is not valid : /t/a\n"
    );
    let s = ok(
        a,
        &["setAcl", "-s", "-v", "0", "/t/a", "world:anyone:cdrwa"],
    );
    assert_eq!(stat_field(&s, "aclVersion"), "1");
    assert_eq!(ok(a, &["setAcl", "/t/a", "world:anyone:cdrw"]), "");
    assert_eq!(ok(a, &["getAcl", "/t/a"]), "'world,'anyone\n: cdrw\n");
    assert_eq!(
        fails(a, &["setAcl", "/t/a", "world:anyone:cdrwa"]),
        "Insufficient permission : /t/a\n"
    );
    ok(a, &["create", "/t/rr"]);
    ok(a, &["create", "/t/rr/k"]);
    assert_eq!(ok(a, &["setAcl", "-R", "/t/rr", "world:anyone:cdra"]), "");
    assert_eq!(ok(a, &["getAcl", "/t/rr/k"]), "'world,'anyone\n: cdra\n");
    // sync, config, whoami, getEphemerals (the one-shot session's ephemeral is gone)
    assert_eq!(ok(a, &["sync", "/t"]), "Sync is OK\n");
    assert!(cli(a, &["config"]).ok);
    assert_eq!(ok(a, &["whoami"]), "Auth scheme: User\nip: 127.0.0.1\n");
    assert_eq!(ok(a, &["getEphemerals", "/t"]), "[]\n");
    assert_eq!(
        fails(a, &["stat", "/t/eph"]),
        "Node does not exist: /t/eph\n"
    );
    // help and usage errors
    assert!(ok(a, &["help"]).contains("\tls [-s] [-w] [-R] path\n"));
    assert_eq!(fails(a, &["addWatch", "-m", "BOGUS", "/t"]),
        "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE\n");
    // chroot in the connect string
    let chrooted = format!("{a}/t");
    assert_eq!(ok(&chrooted, &["ls", "/a"]), "[c1, c2]\n");
    assert_eq!(
        ok(&chrooted, &["create", "/viachroot", "z"]),
        "Created /viachroot\n"
    );
    assert_eq!(ok(a, &["get", "/t/viachroot"]), "z\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_session() {
    let addr = start().await;
    let a = addr.clone();
    let out = tokio::task::spawn_blocking(move || {
        let script = format!(
            "create /s s0\n\
             get -w /s\n\
             set /s s1\n\
             ls -w /s\n\
             create /s/c\n\
             stat -w /s/new\n\
             create /s/new n\n\
             create -e /s/eph e\n\
             getEphemerals /s\n\
             addauth digest user1:pass1\n\
             whoami\n\
             create /s/dg secret auth::cdrwa\n\
             getAcl /s/dg\n\
             addWatch -m PERSISTENT_RECURSIVE /s\n\
             create /s/c/deep\n\
             removewatches /s\n\
             removewatches /s\n\
             get -w /s/c\n\
             removewatches /s/c -d\n\
             close\n\
             connect {a}\n\
             get /s/dg\n\
             ls /s\n\
             quit\n\
             ls /s\n"
        );
        // Give asynchronous watch events a moment by sleeping in between is not possible over a
        // pipe; the checks below look for the lines, not their position.
        session(&a, &script)
    })
    .await
    .unwrap();
    for want in [
        "Welcome to ZooKeeper!",
        "WatchedEvent state:SyncConnected type:None path:null",
        "Created /s",
        "s0\n",
        "WatchedEvent state:SyncConnected type:NodeDataChanged path:/s\n",
        "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/s\n",
        "Node does not exist: /s/new\n",
        "WatchedEvent state:SyncConnected type:NodeCreated path:/s/new\n",
        "[/s/eph]\n",
        "Auth scheme: User\n",
        "digest: user1\n",
        "'digest,'user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=\n: cdrwa\n",
        "WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/s\n",
        "KeeperErrorCode = No such watcher for /s\n",
        "WatchedEvent state:SyncConnected type:DataWatchRemoved path:/s/c\n",
        "WatchedEvent state:Closed type:None path:null\n",
        "Insufficient permission : /s/dg\n",
        "[c, dg, new]\n",
        "WATCHER::\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // quit stops the session: the `ls` after it never ran.
    assert_eq!(out.matches("[c, dg, new]").count(), 1, "{out}");
}
