//! TLS on the client port, configured as ZooKeeper 3.8 reads it. zoo.cfg has
//! `secureClientPort` and `secureClientPortAddress`; every other key is a system property
//! (`-Dzookeeper.ssl.keyStore.location=...`), which a zoo.cfg line without the `zookeeper.`
//! prefix also sets (QuorumPeerConfig hands unknown keys to `System.setProperty`):
//! `ssl.keyStore.*`, `ssl.trustStore.*`, `ssl.clientAuth`, `ssl.protocol`,
//! `ssl.enabledProtocols`, `ssl.ciphersuites`, `ssl.authProvider`,
//! `ssl.handshakeDetectionTimeoutMillis`, `client.portUnification`, and for the `x509`
//! scheme `authProvider.N=...X509AuthenticationProvider` and
//! `X509AuthenticationProvider.superUser`.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The class that registers the `x509` ACL scheme.
pub(crate) const X509_PROVIDER_CLASS: &str =
    "org.apache.zookeeper.server.auth.X509AuthenticationProvider";
/// X509Util's default for `ssl.protocol` in 3.8: only this version is enabled when
/// `ssl.enabledProtocols` is not given.
const DEFAULT_PROTOCOL: &str = "TLSv1.2";
/// X509Util's default for `ssl.handshakeDetectionTimeoutMillis`.
const DEFAULT_DETECTION_TIMEOUT_MS: u64 = 5_000;

/// A keystore's file format (`ssl.keyStore.type`, `ssl.trustStore.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    /// PKCS#12 (`.p12`, `.pfx`).
    Pkcs12,
    /// The JDK's own format (`.jks`).
    Jks,
    /// PEM certificates and a PKCS#8 key (`.pem`).
    Pem,
}

impl StoreType {
    /// The type named by a property value (case-insensitive, as KeyStoreFileType).
    pub(crate) fn from_name(name: &str) -> Option<StoreType> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PKCS12" => Some(StoreType::Pkcs12),
            "JKS" => Some(StoreType::Jks),
            "PEM" => Some(StoreType::Pem),
            _ => None,
        }
    }

    /// KeyStoreFileType.fromFilename: the type a file's extension implies.
    pub(crate) fn from_file_name(path: &str) -> Option<StoreType> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "p12" | "pfx" => Some(StoreType::Pkcs12),
            "jks" => Some(StoreType::Jks),
            "pem" => Some(StoreType::Pem),
            _ => None,
        }
    }
}

/// One keystore or truststore: where it is, its password and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    /// `.location`.
    pub location: PathBuf,
    /// `.password` (empty when unset, as ZooKeeper passes it).
    pub password: String,
    /// `.type`, or the one the extension implies.
    pub store_type: StoreType,
}

/// `ssl.clientAuth`: whether the server asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a trusted certificate is refused (the default).
    Need,
    /// A certificate is asked for; a client without one is served unauthenticated.
    Want,
    /// No certificate is asked for.
    None,
}

/// The client port's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// `secureClientPort`; 0 when only `client.portUnification` asks for TLS.
    pub secure_client_port: u16,
    /// `secureClientPortAddress` (all interfaces by default, as in ZooKeeper).
    pub secure_client_port_address: String,
    /// `client.portUnification=true`: the plaintext `clientPort` also takes TLS clients.
    pub port_unification: bool,
    /// The server's key and certificate chain.
    pub key_store: Option<StoreSpec>,
    /// The CAs client certificates must chain to.
    pub trust_store: Option<StoreSpec>,
    /// `ssl.clientAuth`.
    pub client_auth: ClientAuth,
    /// The protocols enabled (`ssl.enabledProtocols`, else `ssl.protocol` alone), Java names.
    pub enabled_protocols: Vec<String>,
    /// `ssl.ciphersuites`, Java names; `None` for the defaults.
    pub cipher_suites: Option<Vec<String>>,
    /// How long a connection on a unified port may take to show its first bytes.
    pub detection_timeout_ms: u64,
    /// The `x509` scheme exists: `authProvider.N` names X509AuthenticationProvider, or a
    /// secure port registered it.
    pub x509_provider: bool,
    /// `ssl.authProvider`: the scheme whose provider authenticates TLS sessions.
    pub auth_provider_scheme: String,
    /// `zookeeper.X509AuthenticationProvider.superUser`.
    pub x509_super_user: Option<String>,
}

/// A system property given as `-Dzookeeper.NAME` or as `NAME` in zoo.cfg; the `-D` form wins.
pub(crate) fn zk_property<'a>(raw: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    raw.get(&format!("zookeeper.{name}"))
        .or_else(|| raw.get(name))
        .map(|v| v.trim())
}

/// Whether `authProvider.N` (or `zookeeper.authProvider.N`) names X509AuthenticationProvider.
pub(crate) fn x509_provider_registered(raw: &BTreeMap<String, String>) -> bool {
    raw.iter().any(|(k, v)| {
        k.strip_prefix("zookeeper.")
            .unwrap_or(k)
            .starts_with("authProvider.")
            && v.trim() == X509_PROVIDER_CLASS
    })
}

/// The store `PREFIX.WHICH.*` (`ssl.keyStore`, `ssl.quorum.trustStore`...), if a location
/// is given.
pub(crate) fn store(
    raw: &BTreeMap<String, String>,
    prefix: &str,
    which: &str,
) -> Result<Option<StoreSpec>, String> {
    let which = format!("{prefix}.{which}");
    let Some(location) = zk_property(raw, &format!("{which}.location")) else {
        return Ok(None);
    };
    if location.is_empty() {
        return Ok(None);
    }
    let store_type = match zk_property(raw, &format!("{which}.type")) {
        Some(t) if !t.is_empty() => StoreType::from_name(t)
            .ok_or_else(|| format!("{which}.type={t}: not PKCS12, JKS or PEM"))?,
        _ => StoreType::from_file_name(location).ok_or_else(|| {
            format!("{which}.location={location}: no {which}.type and an unknown extension")
        })?,
    };
    Ok(Some(StoreSpec {
        location: PathBuf::from(location),
        password: zk_property(raw, &format!("{which}.password"))
            .unwrap_or("")
            .to_string(),
        store_type,
    }))
}

pub(crate) fn list(value: Option<&str>) -> Option<Vec<String>> {
    let v = value?;
    Some(
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// `PREFIX.clientAuth` (X509Util.ClientAuth.fromPropertyValue: empty or unset is need).
pub(crate) fn client_auth(
    raw: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<ClientAuth, String> {
    let key = format!("{prefix}.clientAuth");
    match zk_property(raw, &key).map(str::to_ascii_uppercase) {
        None => Ok(ClientAuth::Need),
        Some(v) if v.is_empty() || v == "NEED" => Ok(ClientAuth::Need),
        Some(v) if v == "WANT" => Ok(ClientAuth::Want),
        Some(v) if v == "NONE" => Ok(ClientAuth::None),
        Some(v) => Err(format!("{key}={v}: not need, want or none")),
    }
}

/// `PREFIX.enabledProtocols`, else `PREFIX.protocol` alone (SSLContextAndOptions).
pub(crate) fn enabled_protocols(raw: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    let protocol = zk_property(raw, &format!("{prefix}.protocol")).unwrap_or(DEFAULT_PROTOCOL);
    list(zk_property(raw, &format!("{prefix}.enabledProtocols")))
        .unwrap_or_else(|| vec![protocol.to_string()])
}

/// `PREFIX.handshakeDetectionTimeoutMillis`; unparsable or below 1 is the default.
pub(crate) fn detection_timeout_ms(raw: &BTreeMap<String, String>, prefix: &str) -> u64 {
    match zk_property(raw, &format!("{prefix}.handshakeDetectionTimeoutMillis")) {
        None => DEFAULT_DETECTION_TIMEOUT_MS,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .unwrap_or(DEFAULT_DETECTION_TIMEOUT_MS),
    }
}

/// The TLS settings, or `None` when neither `secureClientPort` nor
/// `client.portUnification=true` asks for TLS. Errors name the key.
pub(crate) fn resolve(raw: &BTreeMap<String, String>) -> Result<Option<TlsConfig>, String> {
    let port = match raw.get("secureClientPort").map(|v| v.trim()) {
        None | Some("") => 0,
        Some(v) => v
            .parse::<u16>()
            .map_err(|_| format!("secureClientPort={v}: not a port"))?,
    };
    let unification = zk_property(raw, "client.portUnification").is_some_and(|v| v == "true");
    let address = raw.get("secureClientPortAddress").map(|v| v.trim());
    if port == 0 && address.is_some() {
        // QuorumPeerConfig refuses this too.
        return Err("secureClientPortAddress is set but secureClientPort is not".into());
    }
    if port == 0 && !unification {
        return Ok(None);
    }
    let client_auth = client_auth(raw, "ssl")?;
    let enabled_protocols = enabled_protocols(raw, "ssl");
    let detection_timeout_ms = detection_timeout_ms(raw, "ssl");
    if let Some(f) = zk_property(raw, "serverCnxnFactory") {
        if !f.ends_with(".NettyServerCnxnFactory") {
            // ZooKeeper's NIO factory refuses TLS; here every connection is served alike.
            tracing::warn!("serverCnxnFactory={f}: ZooKeeper needs NettyServerCnxnFactory for TLS");
        }
    }
    let auth_provider_scheme = zk_property(raw, "ssl.authProvider").unwrap_or("x509");
    // QuorumPeerConfig.configureSSLAuth (ZOOKEEPER-2297): a secure port registers the x509
    // provider itself when `ssl.authProvider` is x509, and refuses to start when it names
    // a scheme without an `authProvider.<scheme>`. Port unification alone does neither.
    let mut x509_provider = x509_provider_registered(raw);
    if port != 0 {
        if auth_provider_scheme == "x509" {
            x509_provider = true;
        } else if zk_property(raw, &format!("authProvider.{auth_provider_scheme}")).is_none() {
            return Err(format!(
                "No auth provider configured for the SSL authentication scheme '{auth_provider_scheme}'"
            ));
        }
    }
    Ok(Some(TlsConfig {
        secure_client_port: port,
        secure_client_port_address: address.unwrap_or("0.0.0.0").to_string(),
        port_unification: unification,
        key_store: store(raw, "ssl", "keyStore")?,
        trust_store: store(raw, "ssl", "trustStore")?,
        client_auth,
        enabled_protocols,
        cipher_suites: list(zk_property(raw, "ssl.ciphersuites")),
        detection_timeout_ms,
        x509_provider,
        auth_provider_scheme: auth_provider_scheme.to_string(),
        x509_super_user: zk_property(raw, "X509AuthenticationProvider.superUser")
            .map(str::to_string),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_secure_port_no_tls() {
        assert_eq!(resolve(&raw(&[("clientPort", "2181")])), Ok(None));
        assert!(resolve(&raw(&[("secureClientPortAddress", "127.0.0.1")])).is_err());
    }

    #[test]
    fn zoo_cfg_and_system_property_spellings() {
        let c = resolve(&raw(&[
            ("secureClientPort", "2281"),
            ("ssl.keyStore.location", "/k/server.p12"),
            ("ssl.keyStore.password", "pw"),
            ("zookeeper.ssl.trustStore.location", "/k/trust.jks"),
            ("ssl.trustStore.location", "/k/ignored.pem"),
            ("ssl.clientAuth", "want"),
            ("authProvider.x509", X509_PROVIDER_CLASS),
            ("zookeeper.X509AuthenticationProvider.superUser", "CN=admin"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.secure_client_port, 2281);
        assert_eq!(c.secure_client_port_address, "0.0.0.0");
        let ks = c.key_store.unwrap();
        assert_eq!(
            (ks.store_type, ks.password.as_str()),
            (StoreType::Pkcs12, "pw")
        );
        let ts = c.trust_store.unwrap();
        assert_eq!(ts.store_type, StoreType::Jks);
        assert_eq!(ts.location, PathBuf::from("/k/trust.jks"));
        assert_eq!(c.client_auth, ClientAuth::Want);
        assert_eq!(c.enabled_protocols, ["TLSv1.2"]);
        assert!(c.x509_provider);
        assert_eq!(c.x509_super_user.as_deref(), Some("CN=admin"));
        assert_eq!(c.auth_provider_scheme, "x509");
    }

    #[test]
    fn store_types_from_names_and_extensions() {
        assert_eq!(
            StoreType::from_file_name("/a/b.PFX"),
            Some(StoreType::Pkcs12)
        );
        assert_eq!(StoreType::from_file_name("b.pem"), Some(StoreType::Pem));
        assert_eq!(StoreType::from_file_name("b.der"), None);
        assert_eq!(StoreType::from_name("jks"), Some(StoreType::Jks));
        let r = raw(&[
            ("secureClientPort", "2281"),
            ("ssl.keyStore.location", "/k/server.bin"),
        ]);
        assert!(resolve(&r).is_err());
        let mut r2 = r.clone();
        r2.insert("ssl.keyStore.type".into(), "PEM".into());
        let c = resolve(&r2).unwrap().unwrap();
        assert_eq!(c.key_store.unwrap().store_type, StoreType::Pem);
    }

    #[test]
    fn unification_alone_enables_tls_and_protocols_list() {
        let c = resolve(&raw(&[
            ("client.portUnification", "true"),
            ("ssl.enabledProtocols", "TLSv1.3, TLSv1.2"),
            ("ssl.ciphersuites", "TLS_AES_128_GCM_SHA256"),
            ("ssl.clientAuth", "none"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.secure_client_port, 0);
        assert!(c.port_unification);
        assert_eq!(c.enabled_protocols, ["TLSv1.3", "TLSv1.2"]);
        // No secure port: no x509 provider unless named.
        assert!(!c.x509_provider);
        assert_eq!(c.cipher_suites.unwrap(), ["TLS_AES_128_GCM_SHA256"]);
        assert_eq!(c.client_auth, ClientAuth::None);
        assert!(resolve(&raw(&[
            ("secureClientPort", "1"),
            ("ssl.clientAuth", "maybe")
        ]))
        .is_err());
    }

    #[test]
    fn a_secure_port_registers_x509_or_needs_the_named_provider() {
        let c = resolve(&raw(&[("secureClientPort", "2281")]))
            .unwrap()
            .unwrap();
        assert!(c.x509_provider);
        let r = raw(&[
            ("secureClientPort", "2281"),
            ("zookeeper.ssl.authProvider", "mine"),
        ]);
        assert!(resolve(&r).is_err());
        let mut r2 = r.clone();
        r2.insert("authProvider.mine".into(), "com.example.Mine".into());
        let c = resolve(&r2).unwrap().unwrap();
        assert!(!c.x509_provider);
        assert_eq!(c.auth_provider_scheme, "mine");
    }
}
