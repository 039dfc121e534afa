//! Leader election in a mixed ensemble: two Apache ZooKeeper 3.8 servers (Debian's
//! `zookeeper` package) and the Rust election port as the third member of the same
//! 3-server view, all on 127.0.0.1.
//!
//! Skips (printing why, and passing) when `java` or the ZooKeeper jars under
//! /usr/share/java are missing; CI installs them. Every Java process a test starts is
//! killed when the test ends, pass or fail.

#[macro_use]
mod ensemble_support;

use ensemble_support::{eventually, init_tracing, Ensemble, SERIAL, WAIT};
use ferrokeeper::quorum::election::Timing;
use ferrokeeper::quorum::transport::election::{run_election, Decided, ElectionPort};
use ferrokeeper::quorum::{ServerState, Sid, Zxid};

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
    let classpath = java_or_skip!();
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
    let classpath = java_or_skip!();
    let _serial = SERIAL.lock().await;
    init_tracing();
    let mut ens = Ensemble::new("highest", &[1, 2, 3]);
    // A Java follower of 3 connects to 3's quorum port for Zab. Accepted and left
    // unanswered, it waits there for LEADERINFO for initLimit ticks instead of going back
    // to LOOKING at once, so Java 2, however slowly its JVM starts, meets an ensemble that
    // has decided on 3 (and not 1 and 2 electing 2 in a second round).
    let quorum_sink = tokio::net::TcpListener::bind(("127.0.0.1", ens.ports[&3].quorum))
        .await
        .expect("Rust's quorum port is free");
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = quorum_sink.accept().await {
            held.push(s);
        }
    });
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
    let classpath = java_or_skip!();
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
