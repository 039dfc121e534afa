//! Dynamic reconfiguration's view of the configuration: the quorum config as text (what
//! `QuorumMaj.toString` writes, what NEWLEADER, notifications and reconfig txns carry),
//! and the files ZooKeeper keeps it in: `zoo.cfg.dynamic.<version>` (the activated config,
//! named by its hex version), `zoo.cfg.dynamic.next` (the last proposed one) and the
//! `dynamicConfigFile=` line of the static file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{server_line, Config, ServerSpec};

/// The quorum config's most lines; a text with more is refused (it arrives off the wire).
const MAX_MEMBERS: usize = 1024;

/// A quorum config (QuorumMaj): its members and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QuorumText {
    pub(crate) servers: BTreeMap<u64, ServerSpec>,
    pub(crate) version: i64,
}

impl QuorumText {
    /// The config `cfg` runs with.
    pub(crate) fn of(cfg: &Config) -> QuorumText {
        QuorumText {
            servers: cfg.servers.clone(),
            version: cfg.config_version,
        }
    }

    /// QuorumPeer.configFromString: `server.N=` lines and `version=<hex>`. Hierarchical
    /// quorums (`group.N`, `weight.N`) are not supported.
    pub(crate) fn parse(text: &str) -> Result<QuorumText, String> {
        let mut servers = BTreeMap::new();
        let mut version = 0;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("not key=value: {line:?}"))?;
            let (key, value) = (key.trim(), value.trim());
            if let Some(n) = key.strip_prefix("server.") {
                let sid = server_line::parse_sid(n)?;
                servers.insert(sid, server_line::parse(sid, value)?);
                if servers.len() > MAX_MEMBERS {
                    return Err(format!("more than {MAX_MEMBERS} members"));
                }
            } else if key == "version" {
                version = i64::from_str_radix(value, 16)
                    .map_err(|_| format!("version {value:?} is not hexadecimal"))?;
            } else {
                return Err(format!("unsupported quorum config key {key:?}"));
            }
        }
        if servers.values().all(|s| s.observer) {
            return Err("no participant".into());
        }
        Ok(QuorumText { servers, version })
    }

    /// `QuorumMaj.toString()`: one `server.N=` line per member (QuorumServer.toString:
    /// `host:quorumPort:electionPort:type[;clientHost:clientPort]`), then `version=<hex>`.
    /// Java parses this from every notification; it must stay parseable.
    pub(crate) fn to_text(&self) -> String {
        let mut out = self.member_lines();
        out.push_str(&format!("version={:x}", self.version));
        out
    }

    /// The member lines alone, each ending in a newline.
    pub(crate) fn member_lines(&self) -> String {
        let mut out = String::new();
        for s in self.servers.values() {
            out.push_str(&format!("server.{}={}\n", s.sid, server_value(s)));
        }
        out
    }

    /// The voting members' sids.
    pub(crate) fn voters(&self) -> impl Iterator<Item = u64> + '_ {
        self.servers.values().filter(|s| !s.observer).map(|s| s.sid)
    }

    /// `cfg` running with this config: its members and version, and our own line when
    /// we are still a member (QuorumPeer.setQuorumVerifier keeps our addresses otherwise).
    pub(crate) fn apply_to(&self, cfg: &Config) -> Config {
        let mut next = cfg.clone();
        next.servers = self.servers.clone();
        next.config_version = self.version;
        if let Some(me) = cfg.my_id.and_then(|id| self.servers.get(&id)) {
            next.my_server = Some(me.clone());
        }
        next
    }
}

/// A server line's value as QuorumServer.toString writes it.
pub(crate) fn server_value(s: &ServerSpec) -> String {
    let mut v = format!(
        "{}:{}:{}",
        crate::quorum::transport::view::host_port(&s.host, s.quorum_port),
        s.election_port,
        if s.observer {
            "observer"
        } else {
            "participant"
        }
    );
    if let Some(client) = &s.client_addr {
        v.push(';');
        v.push_str(client);
    }
    v
}

/// QuorumPeerConfig.getVersionFromFilename: the hex number after the last dot, if any.
pub(crate) fn version_from_file_name(path: &Path) -> Option<i64> {
    let name = path.to_str()?;
    let (_, suffix) = name.rsplit_once('.')?;
    i64::from_str_radix(suffix, 16).ok()
}

/// The files of the configuration a server runs with.
pub(crate) struct ConfigFiles<'a> {
    /// The static zoo.cfg.
    pub(crate) static_file: &'a Path,
}

impl ConfigFiles<'_> {
    /// `zoo.cfg.dynamic.<hex version>` (QuorumPeer.makeDynamicConfigFilename).
    pub(crate) fn dynamic_file(&self, version: i64) -> PathBuf {
        suffixed(self.static_file, &format!(".dynamic.{version:x}"))
    }

    /// `zoo.cfg.dynamic.next`: the last-seen config, before it is activated.
    pub(crate) fn next_file(&self) -> PathBuf {
        suffixed(self.static_file, ".dynamic.next")
    }

    /// QuorumPeer.setQuorumVerifier(qv, true): the activated config goes to its own
    /// dynamic file (sorted `key=value` lines, no version: the name has it), and the static
    /// file drops its member lines for a `dynamicConfigFile=` pointing there
    /// (QuorumPeerConfig.editStaticConfig; `erase_client` also drops clientPort and
    /// clientPortAddress, which our own server line now gives).
    pub(crate) fn activate(&self, q: &QuorumText, erase_client: bool) -> std::io::Result<()> {
        let dynamic = self.dynamic_file(q.version);
        let mut lines: Vec<String> = q
            .servers
            .values()
            .map(|s| format!("server.{}={}", s.sid, server_value(s)))
            .collect();
        lines.sort();
        write_atomically(&dynamic, lines.join("\n").as_bytes())?;
        let dynamic = std::fs::canonicalize(&dynamic).unwrap_or(dynamic);
        let old = std::fs::read_to_string(self.static_file)?;
        let mut out = String::new();
        for line in old.lines() {
            let key = line.split(['=', ':']).next().unwrap_or("").trim();
            let dropped = key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight")
                || key.starts_with("dynamicConfigFile")
                || key.starts_with("peerType")
                || (erase_client && key.starts_with("clientPort"));
            if !dropped {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
        write_atomically(self.static_file, out.as_bytes())?;
        // Nothing newer was seen: the next file is spent.
        match std::fs::remove_file(self.next_file()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// QuorumPeer.setLastSeenQuorumVerifier(qv, true): the proposed config, version kept.
    pub(crate) fn write_next(&self, q: &QuorumText) -> std::io::Result<()> {
        let mut lines: Vec<String> = q
            .servers
            .values()
            .map(|s| format!("server.{}={}", s.sid, server_value(s)))
            .collect();
        lines.push(format!("version={:x}", q.version));
        lines.sort();
        write_atomically(&self.next_file(), lines.join("\n").as_bytes())
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Write to a temporary file beside `path`, sync, and rename over it
/// (AtomicFileWritingIdiom): a crash leaves the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = suffixed(path, ".tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
                        server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n\
                        server.4=127.0.0.1:2890:3890:observer;127.0.0.1:2184\n\
                        version=100000003";

    #[test]
    fn the_text_round_trips() {
        let q = QuorumText::parse(TEXT).expect("parses");
        assert_eq!(q.version, 0x1_0000_0003);
        assert_eq!(q.voters().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(q.to_text(), TEXT);
    }

    #[test]
    fn bad_texts_are_refused() {
        for bad in [
            "server.1=127.0.0.1:2888:3888\nversion=xyz",
            "group.1=1:2:3\nversion=1",
            "server.x=127.0.0.1:2888:3888",
            "server.1=127.0.0.1:2888:3888:observer\nversion=1",
            "garbage",
        ] {
            assert!(QuorumText::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_come_from_file_names() {
        let v = |s: &str| version_from_file_name(Path::new(s));
        assert_eq!(v("/c/zoo.cfg.dynamic.100000000"), Some(0x1_0000_0000));
        assert_eq!(v("/c/zoo.cfg.dynamic"), None);
        assert_eq!(v("/c/zoo.cfg.dynamic.next"), None);
    }

    #[test]
    fn activation_rewrites_the_static_file() {
        let dir = std::env::temp_dir().join(format!("fk-dynamic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let zoo = dir.join("zoo.cfg");
        std::fs::write(
            &zoo,
            "tickTime=2000\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\ndynamicConfigFile=/old\n",
        )
        .expect("write");
        let files = ConfigFiles { static_file: &zoo };
        let q = QuorumText::parse(TEXT).expect("parses");
        files.write_next(&q).expect("next");
        assert!(files.next_file().exists());
        files.activate(&q, true).expect("activate");
        let dynamic = files.dynamic_file(q.version);
        assert!(dynamic.ends_with("zoo.cfg.dynamic.100000003"));
        let written = std::fs::read_to_string(&dynamic).expect("dynamic");
        assert!(written.starts_with("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n"));
        assert!(!written.contains("version"));
        let edited = std::fs::read_to_string(&zoo).expect("static");
        let canonical = std::fs::canonicalize(&dynamic).expect("canonical");
        assert_eq!(
            edited,
            format!("tickTime=2000\ndynamicConfigFile={}\n", canonical.display())
        );
        assert!(!files.next_file().exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
