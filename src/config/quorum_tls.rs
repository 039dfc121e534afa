//! TLS on the quorum ports (election and Zab), as ZooKeeper 3.8 configures it. zoo.cfg
//! has `sslQuorum`, `portUnification` and `sslQuorumReloadCertFiles` (QuorumPeerConfig;
//! here also spelled `zookeeper.sslQuorum` and so on, like every modelled key); the stores
//! and options are QuorumX509Util's system properties, the `ssl.` ones with the
//! `ssl.quorum.` prefix (`-Dzookeeper.ssl.quorum.keyStore.location=...`, or the zoo.cfg
//! line without `zookeeper.`): `keyStore.*`, `trustStore.*`, `protocol`,
//! `enabledProtocols`, `ciphersuites`, `clientAuth`, `hostnameVerification` and
//! `handshakeDetectionTimeoutMillis`.

use std::collections::BTreeMap;

use super::tls::{client_auth, detection_timeout_ms, enabled_protocols, list, store, zk_property};
use super::{ClientAuth, StoreSpec};

const PREFIX: &str = "ssl.quorum";

/// The quorum ports' TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTlsConfig {
    /// `sslQuorum=true`: every quorum connection this server makes is TLS, and its
    /// quorum ports take only TLS (unless `port_unification`).
    pub ssl_quorum: bool,
    /// `portUnification=true`: the quorum ports take TLS and plaintext alike.
    pub port_unification: bool,
    /// `sslQuorumReloadCertFiles=true`: new connections use the stores as the files are
    /// now, once they changed.
    pub reload_cert_files: bool,
    /// `ssl.quorum.keyStore.*`: this server's key and chain, for both ends.
    pub key_store: Option<StoreSpec>,
    /// `ssl.quorum.trustStore.*`: the CAs a peer's certificate must chain to.
    pub trust_store: Option<StoreSpec>,
    /// `ssl.quorum.clientAuth` (need by default).
    pub client_auth: ClientAuth,
    /// `ssl.quorum.enabledProtocols`, else `ssl.quorum.protocol` (TLSv1.2).
    pub enabled_protocols: Vec<String>,
    /// `ssl.quorum.ciphersuites`; `None` for the defaults.
    pub cipher_suites: Option<Vec<String>>,
    /// `ssl.quorum.hostnameVerification` (default true): the peer's certificate must
    /// name its address, on both ends (QuorumX509Util verifies client hostnames too).
    pub hostname_verification: bool,
    /// `ssl.quorum.handshakeDetectionTimeoutMillis`: how long an accepted connection may
    /// take to show whether it is TLS.
    pub detection_timeout_ms: u64,
}

/// Whether [`resolve`] reads `key` (with or without `zookeeper.`).
pub(crate) fn is_quorum_tls_key(key: &str) -> bool {
    let k = key.strip_prefix("zookeeper.").unwrap_or(key);
    matches!(
        k,
        "sslQuorum" | "portUnification" | "sslQuorumReloadCertFiles"
    ) || k.starts_with("ssl.quorum.")
}

/// ZooKeeper's `parseBoolean` for a QuorumPeerConfig key (also as `zookeeper.KEY`).
fn flag(raw: &BTreeMap<String, String>, key: &str) -> Result<bool, String> {
    match zk_property(raw, key) {
        None => Ok(false),
        Some(v) => super::values::boolean(v).map_err(|e| format!("{key}={v}: {e}")),
    }
}

/// The settings, or `None` when neither `sslQuorum` nor `portUnification` is on (the
/// quorum is plaintext; `ssl.quorum.*` are then not read, as in ZooKeeper).
pub(crate) fn resolve(raw: &BTreeMap<String, String>) -> Result<Option<QuorumTlsConfig>, String> {
    let ssl_quorum = flag(raw, "sslQuorum")?;
    let port_unification = flag(raw, "portUnification")?;
    let reload_cert_files = flag(raw, "sslQuorumReloadCertFiles")?;
    if !ssl_quorum && !port_unification {
        return Ok(None);
    }
    // ZKConfig.getBoolean(key, true): unset is true, else Boolean.parseBoolean.
    let hostname_verification = zk_property(raw, &format!("{PREFIX}.hostnameVerification"))
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    Ok(Some(QuorumTlsConfig {
        ssl_quorum,
        port_unification,
        reload_cert_files,
        key_store: store(raw, PREFIX, "keyStore")?,
        trust_store: store(raw, PREFIX, "trustStore")?,
        client_auth: client_auth(raw, PREFIX)?,
        enabled_protocols: enabled_protocols(raw, PREFIX),
        cipher_suites: list(zk_property(raw, &format!("{PREFIX}.ciphersuites"))),
        hostname_verification,
        detection_timeout_ms: detection_timeout_ms(raw, PREFIX),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreType;
    use std::path::PathBuf;

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn off_unless_ssl_quorum_or_port_unification() {
        assert_eq!(resolve(&raw(&[])), Ok(None));
        // The client port's keys say nothing about the quorum.
        let r = raw(&[
            ("ssl.keyStore.location", "/k/a.p12"),
            ("sslQuorum", "false"),
            ("sslQuorumReloadCertFiles", "true"),
        ]);
        assert_eq!(resolve(&r), Ok(None));
        assert!(resolve(&raw(&[("sslQuorum", "yes")])).is_err());
        assert!(is_quorum_tls_key("zookeeper.sslQuorum"));
        assert!(is_quorum_tls_key("ssl.quorum.trustStore.type"));
        assert!(!is_quorum_tls_key("ssl.trustStore.type"));
    }

    #[test]
    fn ssl_quorum_reads_the_quorum_prefix_only() {
        let c = resolve(&raw(&[
            ("sslQuorum", "TRUE"),
            ("ssl.keyStore.location", "/k/client-port.p12"),
            ("ssl.quorum.keyStore.location", "/k/quorum.jks"),
            ("ssl.quorum.keyStore.password", "pw"),
            ("zookeeper.ssl.quorum.trustStore.location", "/k/trust.pem"),
            ("ssl.quorum.trustStore.location", "/k/ignored.p12"),
            ("ssl.quorum.enabledProtocols", "TLSv1.3,TLSv1.2"),
            ("ssl.quorum.hostnameVerification", "false"),
        ]))
        .unwrap()
        .unwrap();
        assert!(c.ssl_quorum && !c.port_unification && !c.reload_cert_files);
        let ks = c.key_store.unwrap();
        assert_eq!(ks.location, PathBuf::from("/k/quorum.jks"));
        assert_eq!(
            (ks.store_type, ks.password.as_str()),
            (StoreType::Jks, "pw")
        );
        let ts = c.trust_store.unwrap();
        assert_eq!(
            (ts.location, ts.store_type),
            (PathBuf::from("/k/trust.pem"), StoreType::Pem)
        );
        assert_eq!(c.enabled_protocols, ["TLSv1.3", "TLSv1.2"]);
        assert!(!c.hostname_verification);
        assert_eq!(c.client_auth, ClientAuth::Need);
        assert_eq!(c.detection_timeout_ms, 5000);
        assert_eq!(c.cipher_suites, None);
    }

    #[test]
    fn defaults_and_the_unification_switch() {
        let c = resolve(&raw(&[
            ("portUnification", "true"),
            ("zookeeper.sslQuorumReloadCertFiles", "true"),
            ("ssl.quorum.clientAuth", "want"),
            ("ssl.quorum.handshakeDetectionTimeoutMillis", "250"),
            (
                "ssl.quorum.ciphersuites",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            ),
        ]))
        .unwrap()
        .unwrap();
        assert!(!c.ssl_quorum && c.port_unification && c.reload_cert_files);
        // Quorum hostname verification is on unless said otherwise.
        assert!(c.hostname_verification);
        assert_eq!(c.enabled_protocols, ["TLSv1.2"]);
        assert_eq!(c.client_auth, ClientAuth::Want);
        assert_eq!(c.detection_timeout_ms, 250);
        assert_eq!(c.key_store, None);
        assert_eq!(
            c.cipher_suites.unwrap(),
            ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
        );
        let bad = raw(&[
            ("sslQuorum", "true"),
            ("ssl.quorum.clientAuth", "sometimes"),
        ]);
        assert!(resolve(&bad).is_err());
        let bad = raw(&[
            ("sslQuorum", "true"),
            ("ssl.quorum.keyStore.location", "/k/x.bin"),
        ]);
        assert!(resolve(&bad).unwrap_err().contains("ssl.quorum.keyStore"));
    }
}
