//! Operations interfaces on an in-process server: four-letter words (formats and the
//! whitelist rule), the AdminServer (JSON fields, aliases, unknown commands, a busy port
//! that must not stop the server) and the Prometheus endpoint.

use std::time::Duration;

use ferrokeeper::config::Config;
use ferrokeeper::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts a server; returns its client address.
async fn start(cfg: Config) -> String {
    let server = Server::bind_in_memory(cfg).await.expect("bind");
    let addr = server.local_addr().expect("addr").to_string();
    tokio::spawn(server.run());
    addr
}

fn config(whitelist: &[&str]) -> Config {
    let mut cfg = Config::default_standalone();
    cfg.client_port = 0;
    cfg.admin_enable_server = false;
    cfg.four_letter_whitelist = whitelist.iter().map(|s| s.to_string()).collect();
    cfg
}

async fn four(addr: &str, word: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .expect("timely answer")
        .expect("read");
    out
}

async fn http_get(port: u16, path: &str) -> (String, String) {
    // The AdminServer starts with the server's run loop: give it a moment.
    let mut s = None;
    for _ in 0..100 {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)).await {
            s = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut s = s.expect("the AdminServer listens");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .expect("timely answer")
        .expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("http response");
    (head.to_string(), body.to_string())
}

#[tokio::test]
async fn whitelist_refuses_with_zookeepers_text_and_always_allows_srvr() {
    let addr = start(config(&["ruok"])).await;
    assert_eq!(four(&addr, "ruok").await, "imok");
    assert!(four(&addr, "srvr").await.starts_with("Zookeeper version: "));
    assert_eq!(
        four(&addr, "stat").await,
        "stat is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        four(&addr, "mntr").await,
        "mntr is not executed because it is not in the whitelist.\n"
    );
}

#[tokio::test]
async fn four_letter_words_in_zookeepers_formats() {
    let addr = start(config(&["*"])).await;
    let srvr = four(&addr, "srvr").await;
    let keys: Vec<&str> = srvr
        .lines()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "Zookeeper version",
            "Latency min/avg/max",
            "Received",
            "Sent",
            "Connections",
            "Outstanding",
            "Zxid",
            "Mode",
            "Node count"
        ]
    );
    // ZooKeeper counts the root twice: a fresh tree has 5 nodes.
    assert!(srvr.ends_with("Node count: 5\n"), "{srvr}");
    let mntr = four(&addr, "mntr").await;
    assert!(mntr.contains("zk_znode_count\t5\n"), "{mntr}");
    assert!(mntr.contains("zk_avg_latency\t0.0\n"), "{mntr}");
    assert!(mntr.contains("zk_p99_readlatency\t"), "{mntr}");
    assert_eq!(
        four(&addr, "wchs").await,
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    assert_eq!(four(&addr, "crst").await, "Connection stats reset.\n");
    assert_eq!(four(&addr, "srst").await, "Server stats reset.\n");
    assert_eq!(four(&addr, "gtmk").await, "306");
    assert_eq!(four(&addr, "isro").await, "rw");
    let cons = four(&addr, "cons").await;
    assert!(
        cons.ends_with("[0](queued=0,recved=1,sent=0)\n\n"),
        "{cons}"
    );
    assert!(four(&addr, "dump")
        .await
        .starts_with("SessionTracker dump:\nSession Sets (0)/(0):\n"));
    assert!(four(&addr, "envi")
        .await
        .starts_with("Environment:\nzookeeper.version="));
}

#[tokio::test]
async fn admin_server_answers_zookeepers_commands() {
    let port = free_port().await;
    let mut cfg = config(&["*"]);
    cfg.admin_enable_server = true;
    cfg.admin_server_address = "127.0.0.1".into();
    cfg.admin_server_port = port;
    let _addr = start(cfg).await;
    let (head, body) = http_get(port, "/commands").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("<a href=\"/commands/watches_by_path\">watches_by_path</a>\n<br/>\n"));
    let (head, body) = http_get(port, "/commands/srvr").await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    for key in [
        "\"version\" : ",
        "\"server_stats\" : {",
        "\"node_count\" : 5",
        "\"command\" : \"server_stats\"",
        "\"error\" : null",
    ] {
        assert!(body.contains(key), "{key} in {body}");
    }
    let (_, body) = http_get(port, "/commands/no_such").await;
    assert_eq!(
        body,
        "{\n  \"command\" : \"no_such\",\n  \"error\" : \"Unknown command: no_such\"\n}"
    );
    let (_, body) = http_get(port, "/commands/stmk?traceMask=42").await;
    assert!(body.contains("\"tracemask\" : 42"), "{body}");
    let (_, body) = http_get(port, "/commands/gtmk").await;
    assert!(body.contains("\"tracemask\" : 42"), "{body}");
    let (head, _) = http_get(port, "/elsewhere").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[tokio::test]
async fn a_busy_admin_port_does_not_stop_the_server() {
    let busy = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut cfg = config(&["*"]);
    cfg.admin_enable_server = true;
    cfg.admin_server_address = "127.0.0.1".into();
    cfg.admin_server_port = busy.local_addr().expect("addr").port();
    cfg.metrics_provider_class_name =
        "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".into();
    cfg.metrics_provider_http_host = Some("127.0.0.1".into());
    cfg.metrics_provider_http_port = Some(busy.local_addr().expect("addr").port());
    let addr = start(cfg).await;
    assert_eq!(four(&addr, "ruok").await, "imok");
}

#[tokio::test]
async fn hash_lists_the_tree_digest_every_128_txns() {
    use zookeeper_client::{Acls, Client, CreateMode};
    let port = free_port().await;
    let mut cfg = config(&["*"]);
    cfg.admin_enable_server = true;
    cfg.admin_server_address = "127.0.0.1".into();
    cfg.admin_server_port = port;
    let addr = start(cfg).await;
    // Nothing is logged before the 128th txn.
    assert_eq!(four(&addr, "hash").await, "");
    let c = Client::connector().connect(&addr).await.expect("connect");
    let open = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let mut last = 0;
    for i in 0..300 {
        let (stat, _) = c
            .create(&format!("/h{i}"), b"x", &open)
            .await
            .expect("create");
        last = stat.czxid;
    }
    // createSession was txn 1: the creates are 2..=301.
    assert_eq!(last, 301);
    let text = four(&addr, "hash").await;
    let entries: Vec<(i64, i64)> = text
        .lines()
        .map(|l| {
            let (z, d) = l.split_once(": ").expect("`zxid: digest`");
            (
                i64::from_str_radix(z, 16).expect("hex zxid"),
                d.parse().expect("decimal digest"),
            )
        })
        .collect();
    assert_eq!(text.lines().next().map(|l| &l[..4]), Some("80: "), "{text}");
    let zxids: Vec<i64> = entries.iter().map(|e| e.0).collect();
    assert_eq!(zxids, [0x80, 0x100], "{text}");
    assert_ne!(entries[0].1, entries[1].1);
    // The AdminServer lists the same entries.
    let (_, body) = http_get(port, "/commands/hash").await;
    for (z, d) in &entries {
        let item = format!(
            "{{\n    \"zxid\" : {z},\n    \"digest\" : {d},\n    \"digest_version\" : 2\n  }}"
        );
        assert!(body.contains(&item), "{item} in {body}");
    }
}
