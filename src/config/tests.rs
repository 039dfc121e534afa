//! Tests of the configuration layer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A fresh directory under the system temp dir.
fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferrokeeper-config-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write `text` as `zoo.cfg` in a fresh dir; returns its path.
fn write_cfg(text: &str) -> PathBuf {
    let path = temp_dir().join("zoo.cfg");
    std::fs::write(&path, text).unwrap();
    path
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    Config::load(Some(&write_cfg(text)), &[])
}

fn ov(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn err_text(path: &Path, overrides: &[(String, String)]) -> String {
    Config::load(Some(path), overrides).unwrap_err().to_string()
}

/// The error for `text`, with the temp path replaced by `zoo.cfg`.
fn err_of(text: &str) -> String {
    let path = write_cfg(text);
    err_text(&path, &[]).replace(&path.display().to_string(), "zoo.cfg")
}

#[test]
fn embedded_defaults() {
    let c = Config::load(None, &[]).unwrap();
    let d = Config::default_standalone();
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.client_port, 2181);
    assert_eq!(c.client_port_address, "127.0.0.1");
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.data_log_dir, None);
    assert_eq!(c.effective_data_log_dir(), Path::new("data"));
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (4000, 40000)
    );
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.four_letter_whitelist, d.four_letter_whitelist);
    assert!(c.four_letter_word_enabled("srvr") && !c.four_letter_word_enabled("ruok"));
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert_eq!(c.snap_count, 100_000);
    assert_eq!(c.pre_alloc_size_bytes, 64 << 20);
    assert!(c.force_sync && c.standalone_enabled && !c.reconfig_enabled);
    assert!(c.servers.is_empty() && c.my_id.is_none() && c.raw.is_empty());
    assert!(!c.is_distributed());
    assert_eq!(c.config_file, None);
}

#[test]
fn embedded_defaults_with_overrides() {
    let c = Config::load(
        None,
        &ov(&[
            ("tickTime", "3000"),
            ("clientPort", "0"),
            ("dataDir", "/tmp/x"),
            ("foo.bar", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (6000, 60000)
    );
    assert_eq!(c.client_port, 0);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(c.raw.get("foo.bar").map(String::as_str), Some("1"));
}

#[test]
fn zookeeper_defaults_in_file_mode() {
    let path = write_cfg("dataDir=/var/zk\nclientPort=2181\n");
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.client_port_address, "0.0.0.0");
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (6000, 60000)
    );
    assert_eq!(c.data_dir, PathBuf::from("/var/zk"));
    assert_eq!(c.effective_data_log_dir(), Path::new("/var/zk"));
    assert_eq!(c.admin_server_address, "0.0.0.0");
    assert_eq!(c.admin_server_port, 8080);
    assert_eq!(c.admin_command_url, "/commands");
    assert!(c.admin_enable_server);
    assert_eq!(c.metrics_provider_class_name, DEFAULT_METRICS_PROVIDER);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
    assert_eq!(c.four_letter_whitelist.iter().collect::<Vec<_>>(), ["srvr"]);
}

#[test]
fn standalone_disabled_needs_participants() {
    assert_eq!(
        err_of("dataDir=/d\nclientPort=1\nstandaloneEnabled=false\n"),
        "zoo.cfg: standaloneEnabled = false then number of participants should be >0"
    );
}

const EVERY_KEY: &str = "tickTime=2500
clientPort=2182
clientPortAddress=10.0.0.1
dataDir=/d
dataLogDir=/l
maxClientCnxns=0
minSessionTimeout=1000
maxSessionTimeout=90000
initLimit=10
syncLimit=5
snapCount=5000
autopurge.snapRetainCount=7
autopurge.purgeInterval=24
extendedTypesEnabled=true
4lw.commands.whitelist= stat , RUOK,,mntr
jute.maxbuffer=4194304
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
znode.container.checkIntervalMs=1000
znode.container.maxPerMinute=100
znode.container.maxNeverUsedIntervalMs=30000
admin.enableServer=false
admin.serverAddress=127.0.0.2
admin.serverPort=9090
admin.commandURL=/cmd
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.3
metricsProvider.httpPort=7001
metricsProvider.exportJvmInfo=false
forceSync=no
preAllocSize=1024
standaloneEnabled=TRUE
reconfigEnabled=true
group.1=1:2:3
weight.1=1
someUnknown.key=x
";

#[test]
fn every_key() {
    let path = write_cfg(EVERY_KEY);
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.tick_time_ms, 2500);
    assert_eq!(c.client_port, 2182);
    assert_eq!(c.client_port_address, "10.0.0.1");
    assert_eq!(c.data_dir, PathBuf::from("/d"));
    assert_eq!(c.data_log_dir, Some(PathBuf::from("/l")));
    assert_eq!(c.effective_data_log_dir(), Path::new("/l"));
    assert_eq!(c.max_client_cnxns, 0);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (1000, 90000)
    );
    assert_eq!((c.init_limit, c.sync_limit), (10, 5));
    assert_eq!(c.snap_count, 5000);
    assert_eq!(c.autopurge_snap_retain_count, 7);
    assert_eq!(c.autopurge_purge_interval_hours, 24);
    assert!(c.extended_types_enabled);
    assert_eq!(
        c.four_letter_whitelist.iter().collect::<Vec<_>>(),
        ["mntr", "ruok", "srvr", "stat"]
    );
    assert!(c.four_letter_word_enabled("ruok") && !c.four_letter_word_enabled("dump"));
    assert_eq!(c.jute_max_buffer, 4194304);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert_eq!(c.container_check_interval_ms, 1000);
    assert_eq!(c.container_max_per_minute, 100);
    assert_eq!(c.container_max_never_used_interval_ms, 30000);
    assert!(!c.admin_enable_server);
    assert_eq!(c.admin_server_address, "127.0.0.2");
    assert_eq!(c.admin_server_port, 9090);
    assert_eq!(c.admin_command_url, "/cmd");
    assert_eq!(
        c.metrics_provider_class_name,
        "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
    );
    assert_eq!(c.metrics_provider_http_host.as_deref(), Some("127.0.0.3"));
    assert_eq!(c.metrics_provider_http_port, Some(7001));
    assert!(!c.force_sync);
    assert_eq!(c.pre_alloc_size_bytes, 1024 * 1024);
    assert!(c.standalone_enabled);
    assert!(c.reconfig_enabled);
    assert_eq!(c.raw.get("group.1").map(String::as_str), Some("1:2:3"));
    assert_eq!(c.raw.get("weight.1").map(String::as_str), Some("1"));
    assert_eq!(c.raw.get("someUnknown.key").map(String::as_str), Some("x"));
    assert_eq!(
        c.raw
            .get("metricsProvider.exportJvmInfo")
            .map(String::as_str),
        Some("false")
    );
    assert_eq!(c.raw.get("tickTime").map(String::as_str), Some("2500"));
}

#[test]
fn zookeeper_prefixed_spellings() {
    let c = load_text(
        "dataDir=/d\nclientPort=1\nzookeeper.extendedTypesEnabled=true\n\
         zookeeper.4lw.commands.whitelist=*\nzookeeper.DigestAuthenticationProvider.superDigest=super:x\n\
         zookeeper.snapCount=10\nzookeeper.forceSync=yes\nzookeeper.preAllocSize=8\n\
         zookeeper.admin.serverPort=1234\nzookeeper.jute.maxbuffer=100\n",
    )
    .unwrap();
    assert!(c.extended_types_enabled);
    assert!(c.four_letter_whitelist.contains("*"));
    assert!(c.four_letter_word_enabled("dump"));
    assert_eq!(c.super_digest.as_deref(), Some("super:x"));
    assert_eq!(c.snap_count, 10);
    assert!(c.force_sync);
    assert_eq!(c.pre_alloc_size_bytes, 8192);
    assert_eq!(c.admin_server_port, 1234);
    assert_eq!(c.jute_max_buffer, 100);
}

#[test]
fn overrides_beat_file() {
    let path =
        write_cfg("tickTime=2000\ndataDir=/d\nclientPort=2181\n4lw.commands.whitelist=stat\n");
    let c = Config::load(
        Some(&path),
        &ov(&[
            ("tickTime", "100"),
            ("clientPort", "3000"),
            ("zookeeper.4lw.commands.whitelist", "ruok"),
            ("jute.maxbuffer", "0x200000"),
            ("znode.container.checkIntervalMs", "500"),
        ]),
    )
    .unwrap();
    assert_eq!(c.tick_time_ms, 100);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (200, 2000)
    );
    assert_eq!(c.client_port, 3000);
    assert_eq!(
        c.four_letter_whitelist.iter().collect::<Vec<_>>(),
        ["ruok", "srvr"]
    );
    assert_eq!(c.jute_max_buffer, 0x200000);
    assert_eq!(c.container_check_interval_ms, 500);
    assert_eq!(c.raw.get("tickTime").map(String::as_str), Some("100"));
}

#[test]
fn jute_maxbuffer_number_forms() {
    for (text, want) in [
        ("0x100000", 0x100000),
        ("0X10", 16),
        ("#ff", 255),
        ("010", 8),
        ("4096", 4096),
        ("+7", 7),
    ] {
        let c = Config::load(None, &ov(&[("jute.maxbuffer", text)])).unwrap();
        assert_eq!(c.jute_max_buffer, want, "{text}");
    }
    for bad in ["0x", "0xg1", "-1", "0", "1e6", "4 096", "0x80000000"] {
        let e = Config::load(None, &ov(&[("jute.maxbuffer", bad)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "-Djute.maxbuffer: invalid value \"{bad}\" for jute.maxbuffer: \
                 expected a positive integer (decimal, or hex with 0x)"
            )
        );
    }
}

#[test]
fn server_lines() {
    let dir = temp_dir();
    std::fs::write(dir.join("myid"), "2\n").unwrap();
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\ninitLimit=5\nsyncLimit=2\n\
             server.1=zk1:2888:3888\n\
             server.2 = zk2:2888:3888:participant;2182\n\
             server.3=zk3:2888:3888:observer;10.0.0.3:2183\n\
             server.4=[::1]:2888:3888;[::1]:2184\n",
            dir.display()
        ),
    )
    .unwrap();
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.my_id, Some(2));
    assert!(c.is_distributed());
    assert_eq!(
        c.servers[&1],
        ServerSpec {
            sid: 1,
            host: "zk1".into(),
            quorum_port: 2888,
            election_port: 3888,
            observer: false,
            client_addr: None
        }
    );
    assert_eq!(c.servers[&2].client_addr.as_deref(), Some("0.0.0.0:2182"));
    assert!(!c.servers[&2].observer);
    let s3 = &c.servers[&3];
    assert!(s3.observer);
    assert_eq!(
        (s3.host.as_str(), s3.quorum_port, s3.election_port),
        ("zk3", 2888, 3888)
    );
    assert_eq!(s3.client_addr.as_deref(), Some("10.0.0.3:2183"));
    assert_eq!(c.servers[&4].host, "::1");
    assert_eq!(c.servers[&4].client_addr.as_deref(), Some("[::1]:2184"));
    // clientPort came from this server's (server.2) line.
    assert_eq!(
        (c.client_port, c.client_port_address.as_str()),
        (2182, "0.0.0.0")
    );
}

#[test]
fn bad_values_name_file_line_key_and_value() {
    let cases = [
        ("dataDir=/d\n# c\ntickTime=abc\n", "zoo.cfg:3: invalid value \"abc\" for tickTime: expected a positive integer"),
        ("dataDir=/d\ntickTime=0\n", "zoo.cfg:2: invalid value \"0\" for tickTime: expected a positive integer"),
        ("clientPort=70000\ndataDir=/d\n", "zoo.cfg:1: invalid value \"70000\" for clientPort: expected a port number (0-65535)"),
        ("dataDir=/d\n\n\nmaxClientCnxns=-1\n", "zoo.cfg:4: invalid value \"-1\" for maxClientCnxns: expected a non-negative integer"),
        ("dataDir=/d\nminSessionTimeout=-2\n", "zoo.cfg:2: invalid value \"-2\" for minSessionTimeout: expected a non-negative integer (milliseconds) or -1"),
        ("dataDir=/d\nextendedTypesEnabled=yes\n", "zoo.cfg:2: invalid value \"yes\" for extendedTypesEnabled: expected true or false"),
        ("dataDir=/d\nforceSync=maybe\n", "zoo.cfg:2: invalid value \"maybe\" for forceSync: expected yes or no"),
        ("dataDir=/d\nsnapCount=many\n", "zoo.cfg:2: invalid value \"many\" for snapCount: expected a positive integer (decimal, or hex with 0x)"),
        ("dataDir=/d\nserver.1=zk1:2888\n", "zoo.cfg:2: invalid value \"zk1:2888\" for server.1: expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]"),
        ("dataDir=/d\nserver.x=zk1:2888:3888\n", "zoo.cfg:2: invalid value \"zk1:2888:3888\" for server.x: server id \"x\" is not a number"),
        ("dataDir=/d\nserver.1=zk1:2888:abc\n", "zoo.cfg:2: invalid value \"zk1:2888:abc\" for server.1: election port \"abc\" is not a port number (1-65535)"),
        ("dataDir=/d\nserver.1=zk1:99999:3888\n", "zoo.cfg:2: invalid value \"zk1:99999:3888\" for server.1: quorum port \"99999\" is not a port number (1-65535)"),
        ("dataDir=/d\nserver.1=zk1:2888:2888\n", "zoo.cfg:2: invalid value \"zk1:2888:2888\" for server.1: the quorum and election ports must be different"),
        ("dataDir=/d\nserver.1=zk1:2888:3888:leader\n", "zoo.cfg:2: invalid value \"zk1:2888:3888:leader\" for server.1: unknown server type \"leader\": expected participant or observer"),
        ("dataDir=/d\nserver.1=zk1:2888:3888;a:b:c\n", "zoo.cfg:2: invalid value \"zk1:2888:3888;a:b:c\" for server.1: client address \"a:b:c\": expected [clientHost:]clientPort"),
        ("dataDir=/d\nserver.1=a:1:2|b:1:2\n", "zoo.cfg:2: invalid value \"a:1:2|b:1:2\" for server.1: multiple addresses separated by | are not supported"),
        ("dataDir=/d\nDigestAuthenticationProvider.superDigest=nocolon\n", "zoo.cfg:2: invalid value \"nocolon\" for DigestAuthenticationProvider.superDigest: expected user:base64-sha1-digest, e.g. super:<digest>"),
        ("clientPort=2181\n", "zoo.cfg: dataDir is not set"),
        ("dataDir=/d\n", "zoo.cfg: clientPort is not set"),
        ("dataDir=/d\nclientPortAddress=1.2.3.4\n", "zoo.cfg: clientPortAddress is set but clientPort is not set"),
        ("dataDir=/d\nclientPort=1\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n", "zoo.cfg: minSessionTimeout must not be larger than maxSessionTimeout (5000 > 4000)"),
        ("dataDir=/d\nkey=\\u12\n", "zoo.cfg:2: malformed \\uxxxx encoding"),
    ];
    for (text, want) in cases {
        assert_eq!(err_of(text), want, "for {text:?}");
    }
}

#[test]
fn bad_override_names_the_dash_d_key() {
    let e = Config::load(None, &ov(&[("tickTime", "abc")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "-DtickTime: invalid value \"abc\" for tickTime: expected a positive integer"
    );
    let path = write_cfg("dataDir=/d\nclientPort=1\n");
    assert_eq!(
        err_text(&path, &ov(&[("zookeeper.maxClientCnxns", "-5")])),
        "-Dzookeeper.maxClientCnxns: invalid value \"-5\" for zookeeper.maxClientCnxns: \
         expected a non-negative integer"
    );
    assert!(matches!(
        Config::load(None, &ov(&[("server.1", "h:1")])).unwrap_err(),
        ConfigError::InvalidValue {
            origin: Origin::Override { .. },
            ..
        }
    ));
}

#[test]
fn myid_reading() {
    let dir = temp_dir();
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
             server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n",
            dir.display()
        ),
    )
    .unwrap();
    let myid = dir.join("myid");
    let e = Config::load(Some(&path), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: myid file is missing (it is required when server.N lines are present)",
            myid.display()
        )
    );
    std::fs::write(&myid, "  3 \r\n").unwrap();
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.my_id, Some(3));
    assert_eq!(c.client_port, 2181);
    std::fs::write(&myid, "three\n").unwrap();
    let e = Config::load(Some(&path), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: invalid myid \"three\": expected a number",
            myid.display()
        )
    );
    std::fs::write(&myid, "9\n").unwrap();
    let e = Config::load(Some(&path), &[]).unwrap_err();
    assert!(e.to_string().ends_with(&format!(
        "myid 9 (from {}) is not one of the server.N lines",
        myid.display()
    )));
    // Distributed mode needs initLimit and syncLimit.
    std::fs::write(&myid, "1").unwrap();
    let e = Config::load(Some(&path), &ov(&[("initLimit", "0")])).unwrap_err();
    assert!(e.to_string().ends_with(": initLimit is not set"), "{e}");
    let e = Config::load(Some(&path), &ov(&[("syncLimit", "0")])).unwrap_err();
    assert!(e.to_string().ends_with(": syncLimit is not set"), "{e}");
}

#[test]
fn single_server_line_is_standalone_but_reads_myid() {
    let dir = temp_dir();
    std::fs::write(dir.join("myid"), "1").unwrap();
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\nclientPort=2181\nserver.1=a:2888:3888\n",
            dir.display()
        ),
    )
    .unwrap();
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.my_id, Some(1));
    assert!(!c.is_distributed());
    let c = Config::load(
        Some(&path),
        &ov(&[
            ("standaloneEnabled", "false"),
            ("initLimit", "1"),
            ("syncLimit", "1"),
        ]),
    )
    .unwrap();
    assert!(c.is_distributed());
}

#[test]
fn comments_continuations_and_separators() {
    let text = "# a comment\r\n\
                ! another comment\r\n\
                \r\n\
                \t  dataDir = /data/zk \r\n\
                clientPort: 2181\n\
                tickTime 2000\n\
                4lw.commands.whitelist=stat, \\\n     ruok, \\\n\t   mntr\n\
                # comment line ending in a backslash does not continue \\\n\
                maxClientCnxns=10\n\
                a\\=b\\:c = x\\ty\\u0041\n\
                ends.in.backslashes=C:\\\\\n\
                next=1\n\
                empty=\n\
                bare\n\
                last=z\\";
    let c = load_text(text).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/data/zk"));
    assert_eq!(c.client_port, 2181);
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(
        c.four_letter_whitelist.iter().collect::<Vec<_>>(),
        ["mntr", "ruok", "srvr", "stat"]
    );
    assert_eq!(c.max_client_cnxns, 10);
    assert_eq!(c.raw.get("a=b:c").map(String::as_str), Some("x\tyA"));
    assert_eq!(
        c.raw.get("ends.in.backslashes").map(String::as_str),
        Some("C:\\")
    );
    assert_eq!(c.raw.get("next").map(String::as_str), Some("1"));
    assert_eq!(c.raw.get("empty").map(String::as_str), Some(""));
    assert_eq!(c.raw.get("bare").map(String::as_str), Some(""));
    assert_eq!(c.raw.get("last").map(String::as_str), Some("z"));
}

#[test]
fn continuation_reports_the_first_line() {
    assert_eq!(
        err_of("dataDir=/d\ntickTime=1\\\n  x\n"),
        "zoo.cfg:2: invalid value \"1x\" for tickTime: expected a positive integer"
    );
}

#[test]
fn later_lines_win() {
    let c = load_text("dataDir=/a\ndataDir=/b\nclientPort=1\nclientPort=2\n").unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/b"));
    assert_eq!(c.client_port, 2);
}

#[test]
fn small_retain_and_snap_counts_are_raised() {
    let c = Config::load(
        None,
        &ov(&[
            ("autopurge.snapRetainCount", "1"),
            ("snapCount", "1"),
            ("autopurge.purgeInterval", "-3"),
        ]),
    )
    .unwrap();
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.snap_count, 2);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
}

#[test]
fn readonly_mode_enables_isro() {
    let c = Config::load(None, &ov(&[("readonlymode.enabled", "true")])).unwrap();
    assert!(c.four_letter_word_enabled("isro"));
    assert!(c.read_only_mode_enabled);
    // Boolean.getBoolean: only "true", in any case, enables it.
    let c = Config::load(None, &ov(&[("readonlymode.enabled", "TRUE")])).unwrap();
    assert!(c.read_only_mode_enabled);
    let c = Config::load(None, &ov(&[("readonlymode.enabled", "yes")])).unwrap();
    assert!(!c.read_only_mode_enabled);
    assert!(!Config::load(None, &[]).unwrap().read_only_mode_enabled);
}

#[test]
fn missing_file_is_an_io_error() {
    let path = temp_dir().join("nope.cfg");
    let e = Config::load(Some(&path), &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(e
        .to_string()
        .starts_with(&format!("cannot read {}: ", path.display())));
}

#[test]
fn dynamic_config_file() {
    let dir = temp_dir();
    std::fs::write(dir.join("myid"), "1").unwrap();
    let dynamic = dir.join("zoo.cfg.dynamic.100000000");
    std::fs::write(
        &dynamic,
        "server.1=a:2888:3888;2181\nserver.2=b:2888:3888;2181\nserver.3=c:2888:3888;2181\n",
    )
    .unwrap();
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile={}\n",
            dir.display(),
            dynamic.display()
        ),
    )
    .unwrap();
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.client_port, 2181);
    std::fs::write(&dynamic, "server.1=a:2888:3888\ntickTime=5\n").unwrap();
    let e = Config::load(Some(&path), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:2: Unrecognised parameter: tickTime", dynamic.display())
    );
}

#[test]
fn system_property_args() {
    let args: Vec<String> = [
        "-DtickTime=3000",
        "-Dzookeeper.snapCount=10",
        "-Dempty=",
        "-Da=b=c",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        parse_system_property_args(&args).unwrap(),
        ov(&[
            ("tickTime", "3000"),
            ("zookeeper.snapCount", "10"),
            ("empty", ""),
            ("a", "b=c")
        ])
    );
    let e = parse_system_property_args(&["-DtickTime".to_string()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"-DtickTime\": expected -Dkey=value (no = found)"
    );
    let e = parse_system_property_args(&["tickTime=1".to_string()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"tickTime=1\": expected -Dkey=value"
    );
    let e = parse_system_property_args(&["-D=1".to_string()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"-D=1\": expected -Dkey=value (empty key)"
    );
}

#[test]
fn java_number_syntax() {
    use super::values::{java_decode, java_parse_long};
    assert_eq!(java_parse_long("+12"), Some(12));
    assert_eq!(java_parse_long("-12"), Some(-12));
    assert_eq!(java_parse_long(""), None);
    assert_eq!(java_parse_long("1_000"), None);
    assert_eq!(java_decode("-0x10"), Some(-16));
    assert_eq!(java_decode("0"), Some(0));
    assert_eq!(java_decode("08"), None);
    assert_eq!(java_decode("0x-1"), None);
}

#[test]
fn linearizable_sync_is_off_unless_asked_for() {
    let c = load_text("dataDir=/tmp/x\nclientPort=2181\n").expect("loads");
    assert!(!c.linearizable_sync);
    let c = load_text("dataDir=/tmp/x\nclientPort=2181\nlinearizableSync=true\n").expect("loads");
    assert!(c.linearizable_sync);
    let c = Config::load(None, &ov(&[("zookeeper.linearizableSync", "true")])).expect("loads");
    assert!(c.linearizable_sync, "as a system property too");
    assert!(
        err_of("dataDir=/tmp/x\nclientPort=2181\nlinearizableSync=yes\n")
            .contains("linearizableSync")
    );
}
