//! Read-only mode (`readonlymode.enabled`) on a Ferrokeeper peer that cannot find a
//! quorum: after the grace period it serves reads to clients that asked `canBeReadOnly`,
//! refuses the rest, answers `isro` with `ro`; once its peers come up it joins them and
//! says `rw`. (Against ZooKeeper 3.8 and in mixed ensembles: compat-tests/ensemble's
//! `read-only` check.)

// Its java_or_skip! is for the tests with Java servers; this one has none.
#[allow(unused_macros)]
mod ensemble_support;

use std::time::Duration;

use ensemble_support::{init_tracing, Ensemble, SERIAL, WAIT};
use ferrokeeper::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use zookeeper_client as zk;

async fn start(ens: &Ensemble, sid: u64, read_only: bool) -> JoinHandle<()> {
    let mut cfg = ens.rust_config(sid);
    cfg.read_only_mode_enabled = read_only;
    // ZooKeeper 3.8's read-only server makes only local sessions.
    cfg.local_sessions_enabled = read_only;
    let server = Server::bind_in_memory(cfg).await.expect("bind");
    tokio::spawn(async move {
        if let Err(e) = server.run().await {
            eprintln!("server {sid} stopped: {e}");
        }
    })
}

async fn four(ens: &Ensemble, sid: u64, word: &str) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(ens.client_addr(sid)).await else {
        return String::new();
    };
    let _ = s.write_all(word.as_bytes()).await;
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
    out
}

async fn wait_for(ens: &Ensemble, sid: u64, word: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = four(ens, sid, word).await;
        if got == want || got.lines().any(|l| l == want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{word} on sid {sid}: {got:?}, never {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A ConnectRequest for a new session with the trailing readOnly flag (None: left out):
/// the ConnectResponse's bytes, or None when the server closes without one.
async fn raw_connect(addr: &str, read_only: Option<bool>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&10_000i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&16i32.to_be_bytes());
    body.extend_from_slice(&[0; 16]);
    if let Some(b) = read_only {
        body.push(u8::from(b));
    }
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    s.write_all(&frame).await.ok()?;
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut resp = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    s.read_exact(&mut resp).await.ok()?;
    Some(resp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_a_quorum_serves_read_only_clients_until_it_joins_one() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let ens = Ensemble::new("read-only", &[1, 2, 3]);
    let lone = start(&ens, 1, true).await;
    let addr = ens.client_addr(1);

    wait_for(&ens, 1, "isro", "ro").await;
    assert_eq!(ens.mode(1).as_deref(), Some("read-only"));
    assert_eq!(raw_connect(&addr, None).await, None, "an old client");
    assert_eq!(raw_connect(&addr, Some(false)).await, None, "not read-only");
    let resp = raw_connect(&addr, Some(true)).await.expect("a session");
    assert_eq!(
        resp.last(),
        Some(&1),
        "readOnly=true in the ConnectResponse"
    );

    let ro = zk::Client::connector()
        .with_readonly(true)
        .with_session_timeout(Duration::from_secs(10))
        .connect(&addr)
        .await
        .expect("a read-only session");
    assert_eq!(ro.state(), zk::SessionState::ConnectedReadOnly);
    assert!(ro.check_stat("/zookeeper").await.expect("a read").is_some());
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    assert_eq!(
        ro.create("/w", b"x", &open).await.err(),
        Some(zk::Error::NotReadOnly)
    );
    assert_eq!(ro.sync("/").await.err(), Some(zk::Error::NotReadOnly));

    // The quorum comes: the election ends, the read-only server shuts, its clients go.
    let others = [start(&ens, 2, false).await, start(&ens, 3, false).await];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !matches!(ens.mode(1).as_deref(), Some("follower" | "leader")) {
        assert!(tokio::time::Instant::now() < deadline, "sid 1 never joined");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for(&ens, 1, "isro", "rw").await;
    assert_ne!(ro.state(), zk::SessionState::ConnectedReadOnly);
    lone.abort();
    for n in others {
        n.abort();
    }
}
