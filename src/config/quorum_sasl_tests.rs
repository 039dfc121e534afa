//! The quorum SASL keys and JAAS sections, with ZooKeeper 3.8's refusals.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::Config;

const JAAS: &str = r#"
QuorumServer {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_learner="${quorum.pw}"
    user_other="x";
};
QuorumLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="learner"
    password="${quorum.pw}";
};
Krb {
    com.sun.security.auth.module.Krb5LoginModule required
    useKeyTab=true;
};
"#;

/// zoo.cfg with `extra` lines and the JAAS file above, `-Dquorum.pw=s3cret`.
fn load(extra: &str) -> Result<Config, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferrokeeper-qsasl-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let jaas = dir.join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("write");
    let path: PathBuf = dir.join("zoo.cfg");
    std::fs::write(&path, format!("dataDir=/d\nclientPort=2181\n{extra}\n")).expect("write");
    let got = Config::load(
        Some(&path),
        &[
            (
                "java.security.auth.login.config".into(),
                jaas.display().to_string(),
            ),
            ("quorum.pw".into(), "s3cret".into()),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    got.map_err(|e| e.to_string())
}

#[test]
fn off_unless_enabled() {
    assert_eq!(load("").unwrap().quorum_sasl, None);
    assert_eq!(
        load("quorum.auth.enableSasl=false").unwrap().quorum_sasl,
        None
    );
}

#[test]
fn both_sections_are_read() {
    let c = load(
        "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
         quorum.auth.serverRequireSasl=true\nquorum.cnxn.threads.size=20",
    )
    .unwrap()
    .quorum_sasl
    .unwrap();
    assert!(c.learner_require && c.server_require);
    assert_eq!(c.login, Some(("learner".into(), "s3cret".into())));
    assert_eq!(c.users.get("learner").map(String::as_str), Some("s3cret"));
    assert_eq!(c.users.len(), 2);
    assert_eq!(c.learner_context, "QuorumLearner");
    assert_eq!(c.server_context, "QuorumServer");
    assert_eq!(c.service_principal, "zkquorum/localhost");
}

#[test]
fn require_flags_need_enable_and_each_other() {
    // QuorumPeerConfig.parseProperties' IllegalArgumentExceptions.
    let e = load("quorum.auth.serverRequireSasl=true").unwrap_err();
    assert!(
        e.contains(
            "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"
        ),
        "{e}"
    );
    let e = load("quorum.auth.learnerRequireSasl=true").unwrap_err();
    assert!(
        e.contains("so cannot enable quorum.auth.learnerRequireSasl"),
        "{e}"
    );
    let e = load("quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true").unwrap_err();
    assert!(
        e.contains("quorum.auth.learnerRequireSasl is disabled, so cannot enable"),
        "{e}"
    );
    assert!(load("quorum.auth.enableSasl=yes").is_err());
    assert!(load("quorum.auth.enableSasl=true\nquorum.cnxn.threads.size=many").is_err());
}

#[test]
fn named_sections_must_exist() {
    let e =
        load("quorum.auth.enableSasl=true\nquorum.auth.server.saslLoginContext=Nope").unwrap_err();
    assert!(e.contains("'Nope' could not be found"), "{e}");
    let c = load(
        "quorum.auth.enableSasl=true\nquorum.auth.learner.saslLoginContext=Krb\n\
         quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST",
    )
    .unwrap()
    .quorum_sasl
    .unwrap();
    // A Kerberos learner section: no DIGEST-MD5 login (authenticating will fail).
    assert_eq!(c.login, None);
    assert_eq!(c.service_principal, "zkquorum/_HOST");
}
