//! The ensemble keys: electionAlg, peerType, quorumListenOnAllIPs, cnxTimeout,
//! snapshotSizeFactor, commitLogCount. The messages in quotes are what ZooKeeper 3.8.0's
//! QuorumPeerMain printed for the same zoo.cfg line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A minimal standalone zoo.cfg plus `extra`, in a fresh directory; returns the config or
/// the error text with the path replaced by `zoo.cfg`.
fn load(extra: &str) -> Result<Config, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferrokeeper-qkeys-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join("zoo.cfg");
    std::fs::write(&path, format!("dataDir=/d\nclientPort=2181\n{extra}\n")).expect("write");
    let got = Config::load(Some(&path), &[]);
    let _ = std::fs::remove_dir_all(&dir);
    got.map_err(|e| {
        e.to_string()
            .replace(&path.display().to_string(), "zoo.cfg")
    })
}

fn override_(key: &str, value: &str) -> Result<Config, String> {
    Config::load(None, &[(key.to_string(), value.to_string())]).map_err(|e| e.to_string())
}

#[test]
fn election_alg_takes_only_3() {
    // Integer.parseInt: a sign and leading zeros are fine.
    for ok in ["3", "03", "+3"] {
        assert!(load(&format!("electionAlg={ok}")).is_ok(), "{ok}");
    }
    // "Invalid electionAlg value. Only 3 is supported." (ConfigException, exit 2); a
    // non-number is a NumberFormatException there ("For input string"), also exit 2.
    for bad in ["0", "1", "2", "4", "-3", "abc", ""] {
        assert_eq!(
            load(&format!("electionAlg={bad}")).unwrap_err(),
            format!(
                "zoo.cfg:3: invalid value \"{bad}\" for electionAlg: \
                 Invalid electionAlg value. Only 3 is supported."
            )
        );
    }
}

#[test]
fn peer_type_is_observer_or_participant() {
    for ok in ["observer", "participant", "OBSERVER", "Participant"] {
        assert!(load(&format!("peerType={ok}")).is_ok(), "{ok}");
    }
    // "Unrecognised peertype: leader", and with nothing after the colon for an empty value.
    for bad in ["leader", "", "observers"] {
        assert_eq!(
            load(&format!("peerType={bad}")).unwrap_err(),
            format!(
                "zoo.cfg:3: invalid value \"{bad}\" for peerType: Unrecognised peertype: {bad}"
            )
        );
    }
}

#[test]
fn peer_type_disagreeing_with_the_server_line_only_warns() {
    // ZooKeeper: "Peer type from servers list (PARTICIPANT) doesn't match peerType
    // (OBSERVER). Defaulting to servers list." and it runs as a participant.
    let dir = std::env::temp_dir().join(format!("ferrokeeper-qkeys-pt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("myid"), "1\n").expect("myid");
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\npeerType=observer\n\
             server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n",
            dir.display()
        ),
    )
    .expect("cfg");
    let c = Config::load(Some(&path), &[]).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!c.servers[&1].observer);
}

#[test]
fn quorum_listen_on_all_ips_is_a_strict_boolean() {
    assert!(!load("").expect("default").quorum_listen_on_all_ips);
    for (v, want) in [
        ("true", true),
        ("TRUE", true),
        ("false", false),
        ("False", false),
    ] {
        let c = load(&format!("quorumListenOnAllIPs={v}")).expect(v);
        assert_eq!(c.quorum_listen_on_all_ips, want, "{v}");
    }
    // "Invalid option yes for quorumListenOnAllIPs. Choose 'true' or 'false.'"
    for bad in ["yes", "1", ""] {
        assert_eq!(
            load(&format!("quorumListenOnAllIPs={bad}")).unwrap_err(),
            format!(
                "zoo.cfg:3: invalid value \"{bad}\" for quorumListenOnAllIPs: \
                 Invalid option {bad} for quorumListenOnAllIPs. Choose 'true' or 'false.'"
            )
        );
    }
}

#[test]
fn cnx_timeout_from_the_file_or_the_system_property() {
    assert_eq!(load("").expect("default").cnx_timeout_ms, 5000);
    assert_eq!(load("cnxTimeout=1500").expect("file").cnx_timeout_ms, 1500);
    assert_eq!(load("cnxTimeout=0").expect("none").cnx_timeout_ms, 0);
    let c = override_("zookeeper.cnxTimeout", "250").expect("-D");
    assert_eq!(c.cnx_timeout_ms, 250);
    // ZooKeeper: "Invalid arguments, exiting abnormally" with NumberFormatException
    // 'For input string: "abc"' (exit 2).
    assert_eq!(
        load("cnxTimeout=abc").unwrap_err(),
        "zoo.cfg:3: invalid value \"abc\" for cnxTimeout: For input string: \"abc\" (expected milliseconds)"
    );
    // ZooKeeper starts, then every election dial dies with this; refused here.
    assert_eq!(
        override_("zookeeper.cnxTimeout", "-5").unwrap_err(),
        "-Dzookeeper.cnxTimeout: invalid value \"-5\" for zookeeper.cnxTimeout: \
         connect: timeout can't be negative"
    );
}

#[test]
fn snapshot_size_factor_falls_back_to_the_default() {
    let f = |extra: &str| load(extra).expect(extra).snapshot_size_factor;
    assert_eq!(f(""), 0.33);
    assert_eq!(f("snapshotSizeFactor=0.5"), 0.5);
    assert_eq!(f("snapshotSizeFactor=1"), 1.0);
    assert_eq!(f("snapshotSizeFactor=1e-1"), 0.1);
    assert_eq!(f("snapshotSizeFactor=0.25d"), 0.25);
    // Negative: on-disk txn sync disabled ("zookeeper.snapshotSizeFactor = -1.0").
    assert_eq!(f("snapshotSizeFactor=-1"), -1.0);
    // "The configured zookeeper.snapshotSizeFactor is invalid, going to use the default 0.33"
    assert_eq!(f("snapshotSizeFactor=2"), 0.33);
    // "Error parsing zookeeper.snapshotSizeFactor, using default value 0.33"
    assert_eq!(f("snapshotSizeFactor=abc"), 0.33);
    assert_eq!(f("snapshotSizeFactor=inf"), 0.33);
    assert!(f("snapshotSizeFactor=NaN").is_nan());
    let c = override_("zookeeper.snapshotSizeFactor", "0.1").expect("-D");
    assert_eq!(c.snapshot_size_factor, 0.1);
}

#[test]
fn commit_log_count_is_at_least_500() {
    let n = |extra: &str| load(extra).expect(extra).commit_log_count;
    assert_eq!(n(""), 500);
    assert_eq!(n("commitLogCount=800"), 800);
    // "The configured commitLogCount zookeeper.commitLogCount is less than the recommended
    // 500, going to use the recommended one"
    assert_eq!(n("commitLogCount=10"), 500);
    // "Error parsing zookeeper.commitLogCount - use default value 500"
    assert_eq!(n("commitLogCount=abc"), 500);
    let c = override_("zookeeper.commitLogCount", "1000").expect("-D");
    assert_eq!(c.commit_log_count, 1000);
}

#[test]
fn the_keys_are_not_left_for_raw_readers_only() {
    let c = load("quorumListenOnAllIPs=true\ncnxTimeout=100").expect("loads");
    assert!(c.quorum_listen_on_all_ips);
    // Still recorded as read, like every key.
    assert_eq!(c.raw.get("cnxTimeout").map(String::as_str), Some("100"));
}
