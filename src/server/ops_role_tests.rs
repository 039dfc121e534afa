//! The operations interfaces in an ensemble role: what `mntr`, `srvr`, `conf` and the
//! AdminServer's `voting_view`, `zabstate` and `server_stats` add as ZooKeeper 3.8's
//! quorum servers do (compared with ZooKeeper itself by compat-tests/ops/ensemble.sh).

use crate::config::{Config, ServerSpec};
use crate::server::admin::commands;
use crate::server::admin::json::{obj, J};
use crate::server::facts::{Facts, LeadingFacts, QuorumFacts};
use crate::server::{fourlw, mntr};

fn ensemble(my_id: u64) -> Config {
    let mut cfg = Config::default_standalone();
    cfg.client_port = 27130;
    cfg.init_limit = 20;
    cfg.sync_limit = 10;
    cfg.my_id = Some(my_id);
    for sid in 1..=3u64 {
        let base = 27100 + sid as u16 * 10;
        cfg.servers.insert(
            sid,
            ServerSpec {
                sid,
                host: "127.0.0.1".into(),
                quorum_port: base + 1,
                election_port: base + 2,
                observer: false,
                client_addr: None,
            },
        );
    }
    cfg
}

fn leader_facts() -> Facts {
    Facts {
        server_state: "leader",
        zxid: 0x1_0000_0003,
        node_count: 5,
        quorum: Some(QuorumFacts {
            quorum_size: 3,
            peer_state: "leading - broadcast".into(),
            leader: Some(3),
            election_time_ms: Some(40),
            leading: Some(LeadingFacts {
                learners: 2,
                synced_followers: 2,
                uptime_ms: 1500,
                proposal_sizes: (36, 30, 48),
                learner_sids: vec![1, 2],
                ..LeadingFacts::default()
            }),
        }),
        ..Facts::default()
    }
}

fn follower_facts() -> Facts {
    Facts {
        server_state: "follower",
        quorum: Some(QuorumFacts {
            quorum_size: 3,
            peer_state: "following - broadcast".into(),
            leader: Some(3),
            election_time_ms: Some(40),
            leading: None,
        }),
        ..Facts::default()
    }
}

fn mntr_map(f: &Facts, cfg: &Config) -> std::collections::BTreeMap<String, String> {
    mntr::values(f, cfg, 0)
        .into_iter()
        .map(|(k, _, v)| (k, v.to_string()))
        .collect()
}

#[test]
fn mntr_leader_keys() {
    let m = mntr_map(&leader_facts(), &ensemble(3));
    for (k, v) in [
        ("server_state", "leader"),
        ("peer_state", "leading - broadcast"),
        ("quorum_size", "3"),
        ("learners", "2"),
        ("synced_followers", "2"),
        ("synced_non_voting_followers", "0"),
        ("synced_observers", "0"),
        ("pending_syncs", "0"),
        ("leader_uptime", "1500"),
        ("last_proposal_size", "36"),
        ("min_proposal_size", "30"),
        ("max_proposal_size", "48"),
        ("cnt_1_learner_handler_qp_size", "0"),
        ("p999_2_learner_handler_qp_time_ms", "0"),
    ] {
        assert_eq!(m.get(k).map(String::as_str), Some(v), "{k}");
    }
    // A summary set has no percentiles for the basic one.
    assert!(!m.contains_key("p50_1_learner_handler_qp_size"));
}

#[test]
fn mntr_follower_and_standalone_keys() {
    let m = mntr_map(&follower_facts(), &ensemble(1));
    assert_eq!(m["peer_state"], "following - broadcast");
    assert_eq!(m["quorum_size"], "3");
    for k in [
        "learners",
        "synced_followers",
        "leader_uptime",
        "pending_syncs",
    ] {
        assert!(!m.contains_key(k), "a follower has no {k}");
    }
    assert!(!m.keys().any(|k| k.contains("learner_handler")));
    let s = mntr_map(&Facts::default(), &Config::default_standalone());
    assert!(!s.contains_key("peer_state") && !s.contains_key("quorum_size"));
}

#[test]
fn srvr_leader_adds_proposal_sizes() {
    let leader = fourlw::srvr(&leader_facts(), None);
    assert!(leader.contains("Mode: leader\nNode count: 5\n"));
    assert!(leader.ends_with("Node count: 5\nProposal sizes last/min/max: 36/30/48\n"));
    let follower = fourlw::srvr(&follower_facts(), None);
    assert!(follower.ends_with("Mode: follower\nNode count: 0\n"));
}

#[test]
fn conf_in_an_ensemble() {
    let text = fourlw::conf(&ensemble(3));
    let tail = text.split_once("serverId=3\n").expect("serverId").1;
    assert_eq!(
        tail,
        "initLimit=20\nsyncLimit=10\nelectionAlg=3\nelectionPort=27132\nquorumPort=27131\n\
         peerType=0\nmembership: \n\
         server.1=127.0.0.1:27111:27112:participant\n\
         server.2=127.0.0.1:27121:27122:participant\n\
         server.3=127.0.0.1:27131:27132:participant\nversion=0"
    );
    assert!(fourlw::conf(&Config::default_standalone()).ends_with("serverId=0\n"));
}

#[test]
fn voting_view_lists_the_voters() {
    let mut cfg = ensemble(1);
    cfg.client_port = 27110;
    cfg.client_port_address = "127.0.0.1".into();
    let v = commands::voting_view(&cfg);
    let member = |sid: &str, client: &str| {
        let base: u16 = 27100 + sid.parse::<u16>().unwrap() * 10;
        (
            sid.to_string(),
            obj([
                (
                    "server_addresses",
                    J::Arr(vec![J::from(format!("127.0.0.1:{}", base + 1))]),
                ),
                (
                    "election_addresses",
                    J::Arr(vec![J::from(format!("127.0.0.1:{}", base + 2))]),
                ),
                ("client_address", J::from(client)),
                ("learner_type", J::from("participant")),
            ]),
        )
    };
    assert_eq!(
        v,
        obj([
            member("1", "127.0.0.1:27110"),
            member("2", ""),
            member("3", "")
        ])
    );
}

#[test]
fn zabstate_of_the_leader() {
    let mut cfg = ensemble(3);
    cfg.client_port_address = "127.0.0.1".into();
    let z: std::collections::BTreeMap<_, _> = commands::zabstate(&cfg, &leader_facts())
        .into_iter()
        .collect();
    assert_eq!(z["myid"], J::Int(3));
    assert_eq!(z["is_leader"], J::Bool(true));
    assert_eq!(z["voting"], J::Bool(true));
    assert_eq!(z["client_address"], J::from("127.0.0.1:27130"));
    assert_eq!(z["last_zxid"], J::from("0x100000003"));
    assert_eq!(z["zab_epoch"], J::Int(1));
    assert_eq!(z["zab_counter"], J::Int(3));
    assert_eq!(z["zabstate"], J::from("broadcast"));
    let J::Obj(q) = &z["quorum_address"] else {
        panic!("quorum_address is an object")
    };
    assert!(q.contains(&("one".into(), J::from("127.0.0.1:27131"))));
    assert!(q.contains(&(
        "wildcard_addresses".into(),
        J::Arr(vec![J::from("0.0.0.0:27131")])
    )));
    let z: std::collections::BTreeMap<_, _> = commands::zabstate(&ensemble(1), &follower_facts())
        .into_iter()
        .collect();
    assert_eq!(z["is_leader"], J::Bool(false));
}

#[test]
fn server_stats_of_a_leader_has_proposal_stats() {
    let cfg = ensemble(3);
    let keys = |f: &Facts| -> Vec<&'static str> {
        commands::server_stats(f, &cfg)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(
        keys(&leader_facts()),
        [
            "version",
            "read_only",
            "server_stats",
            "client_response",
            "proposal_stats",
            "node_count"
        ]
    );
    assert!(!keys(&follower_facts()).contains(&"proposal_stats"));
}

#[test]
fn counters_reach_mntr() {
    let before = crate::server::metrics::counter("learner_commit_received_count");
    crate::server::metrics::count("learner_commit_received_count", 2);
    let m = mntr_map(&follower_facts(), &ensemble(1));
    let now: u64 = m["learner_commit_received_count"].parse().unwrap();
    assert!(now >= before + 2, "{before} -> {now}");
}
