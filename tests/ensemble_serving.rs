//! Ensembles that serve clients: Ferrokeeper servers (in this process, logs in memory)
//! elect a leader, and writes through any node are read back on every node with the same
//! Stats. Then the mixed topologies with Apache ZooKeeper 3.8 servers (Debian's jars):
//! Ferrokeeper following a Java leader, and leading Java followers.
//!
//! The mixed tests skip (printing why, and passing) when `java` or the jars are missing.

#[macro_use]
mod ensemble_support;

use std::time::Duration;

use ensemble_support::{init_tracing, Ensemble, SERIAL, WAIT};
use ferrokeeper::server::Server;
use tokio::task::JoinHandle;
use zookeeper_client as zk;

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Starts Ferrokeeper server `sid` of `ens` in this process, over an in-memory log.
async fn start_rust(ens: &Ensemble, sid: u64) -> JoinHandle<()> {
    let cfg = ens.rust_config(sid);
    let server = Server::bind_in_memory(cfg).await.expect("bind");
    tokio::spawn(async move {
        if let Err(e) = server.run().await {
            eprintln!("server {sid} stopped: {e}");
        }
    })
}

/// A client of server `sid`, retried until the server serves (and answers a write-free
/// request).
async fn client(ens: &Ensemble, sid: u64) -> zk::Client {
    let addr = ens.client_addr(sid);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(10),
            zk::Client::connector()
                .with_session_timeout(Duration::from_secs(20))
                .connect(&addr),
        )
        .await;
        if let Ok(Ok(c)) = attempt {
            if c.check_stat("/").await.is_ok() {
                return c;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server {sid} never served"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Writes through each node, then reads every write back on every node after a sync: same
/// data, same Stat.
async fn writes_replicate(ens: &Ensemble, sids: &[u64]) {
    let mut clients = Vec::new();
    for &sid in sids {
        clients.push((sid, client(ens, sid).await));
    }
    for (sid, c) in &clients {
        let path = format!("/via-{sid}");
        c.create(&path, format!("from {sid}").as_bytes(), &open())
            .await
            .unwrap_or_else(|e| panic!("create through {sid}: {e}"));
        c.set_data(&path, b"changed", None)
            .await
            .unwrap_or_else(|e| panic!("set through {sid}: {e}"));
    }
    for (_, c) in &clients {
        c.sync("/").await.expect("sync");
    }
    for &(writer, _) in &clients {
        let path = format!("/via-{writer}");
        let mut first: Option<(Vec<u8>, zk::Stat)> = None;
        for (reader, c) in &clients {
            let (data, stat) = c
                .get_data(&path)
                .await
                .unwrap_or_else(|e| panic!("{path} on {reader}: {e}"));
            assert_eq!(data, b"changed", "{path} on {reader}");
            match &first {
                None => first = Some((data, stat)),
                Some((_, s)) => assert_eq!(&stat, s, "{path}'s Stat on {reader}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_ferrokeeper_nodes_elect_and_replicate() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let ens = Ensemble::new("serve-fk3", &[1, 2, 3]);
    let mut nodes = Vec::new();
    for sid in [1, 2, 3] {
        nodes.push(start_rust(&ens, sid).await);
    }
    tokio::time::timeout(WAIT, writes_replicate(&ens, &[1, 2, 3]))
        .await
        .expect("in time");
    let modes: Vec<String> = [1, 2, 3].iter().filter_map(|s| ens.mode(*s)).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );

    // The leader's quorum port refuses a learner ahead of its config, and garbage, and the
    // ensemble goes on serving.
    let leader = [1, 2, 3]
        .into_iter()
        .find(|s| ens.mode(*s).as_deref() == Some("leader"))
        .expect("a leader");
    let quorum = format!("127.0.0.1:{}", ens.ports[&leader].quorum);
    let mut info = Vec::new();
    info.extend_from_slice(&11i32.to_be_bytes()); // FOLLOWERINFO
    info.extend_from_slice(&0i64.to_be_bytes());
    info.extend_from_slice(&20i32.to_be_bytes());
    // LearnerInfo: sid 99 (a sid outside the view may follow, as in Java) with a config
    // version ahead of the leader's: refused ("Follower is ahead of the leader").
    info.extend_from_slice(&99i64.to_be_bytes());
    info.extend_from_slice(&0x10000i32.to_be_bytes());
    info.extend_from_slice(&i64::MAX.to_be_bytes());
    info.extend_from_slice(&(-1i32).to_be_bytes()); // no authinfo
                                                    // The quorum port carries jute records back to back, no length prefix: an oversized
                                                    // data length is a PING (type 5) claiming 2 GB.
    let mut oversized = 5i32.to_be_bytes().to_vec();
    oversized.extend_from_slice(&0i64.to_be_bytes());
    oversized.extend_from_slice(&i32::MAX.to_be_bytes());
    let garbage = [info, oversized, b"GET / HTTP/1.1\r\n\r\n".to_vec()];
    for bytes in garbage {
        assert!(closed_after(&quorum, &bytes).await, "{bytes:?} left open");
    }
    tokio::time::timeout(WAIT, writes_replicate_again(&ens, &[1, 2, 3]))
        .await
        .expect("still serving");
    for n in nodes {
        n.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrokeeper_follows_java_and_serves_clients() {
    init_tracing();
    let cp = java_or_skip!();
    let _serial = SERIAL.lock().await;
    // Sid 1 is the lowest: with equal zxids the Java sid 3 leads.
    let mut ens = Ensemble::new("serve-follow", &[1, 2, 3]);
    ens.start_java(2, &cp);
    ens.start_java(3, &cp);
    let node = start_rust(&ens, 1).await;
    tokio::time::timeout(WAIT, writes_replicate(&ens, &[1, 2, 3]))
        .await
        .expect("in time");
    // The Java leader's proposals carry the tree digest after each txn: ours matched.
    let mntr = four_letter(&ens, 1, "mntr");
    assert!(
        mntr.lines().any(|l| l == "zk_digest_mismatches_count\t0"),
        "{mntr}"
    );
    node.abort();
}

/// A second round of writes through every node (other paths than the first).
async fn writes_replicate_again(ens: &Ensemble, sids: &[u64]) {
    let c = client(ens, sids[0]).await;
    c.create("/again", b"", &open()).await.expect("create");
    for &sid in sids {
        let r = client(ens, sid).await;
        r.sync("/").await.expect("sync");
        assert!(
            r.check_stat("/again").await.expect("stat").is_some(),
            "on {sid}"
        );
    }
}

/// Whether the server closes a connection after `bytes` (within 10 s).
async fn closed_after(addr: &str, bytes: &[u8]) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = s.write_all(bytes).await;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A four-letter word's answer from server `sid`.
fn four_letter(ens: &Ensemble, sid: u64, word: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(ens.client_addr(sid)).expect("connect");
    s.write_all(word.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrokeeper_leads_java_followers() {
    init_tracing();
    let cp = java_or_skip!();
    let _serial = SERIAL.lock().await;
    // Sid 3 is the highest: with equal zxids it leads.
    let mut ens = Ensemble::new("serve-lead", &[1, 2, 3]);
    let node = start_rust(&ens, 3).await;
    ens.start_java(1, &cp);
    ens.start_java(2, &cp);
    tokio::time::timeout(WAIT, writes_replicate(&ens, &[1, 2, 3]))
        .await
        .expect("in time");
    node.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrokeeper_observes_a_java_ensemble() {
    init_tracing();
    let cp = java_or_skip!();
    let _serial = SERIAL.lock().await;
    // Sid 1 observes: OBSERVERINFO, INFORMs, and its clients' writes go to the leader.
    let mut ens = Ensemble::new("serve-observe", &[1, 2, 3]).with_observers(&[1]);
    ens.start_java(2, &cp);
    ens.start_java(3, &cp);
    let node = start_rust(&ens, 1).await;
    tokio::time::timeout(WAIT, writes_replicate(&ens, &[1, 2, 3]))
        .await
        .expect("in time");
    assert_eq!(ens.mode(1).as_deref(), Some("observer"));
    node.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_with_standalone_disabled_is_a_one_node_ensemble() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let ens = Ensemble::new("serve-one", &[1]);
    let mut cfg = ens.rust_config(1);
    cfg.standalone_enabled = false;
    let server = Server::bind_in_memory(cfg).await.expect("bind");
    let node = tokio::spawn(async move {
        let _ = server.run().await;
    });
    tokio::time::timeout(WAIT, writes_replicate(&ens, &[1]))
        .await
        .expect("in time");
    assert_eq!(ens.mode(1).as_deref(), Some("leader"));
    node.abort();
}
