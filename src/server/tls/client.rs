//! TLS for a client of ours (`ferrokeeper cli`), configured as the Java client is: the
//! system properties `zookeeper.client.secure=true` (ZKClientConfig) and the
//! `zookeeper.ssl.keyStore.*` / `zookeeper.ssl.trustStore.*` stores (ClientX509Util), read
//! by the server's own store loaders (PKCS12, JKS, PEM), and
//! `zookeeper.ssl.hostnameVerification` (default true). The stores are handed to the
//! `zookeeper-client` crate as PEM.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::keystore::{load_key_store, load_trust_store};
use super::TlsError;
use crate::config::tls::{store, zk_property};

/// Where a client without a trust store finds CAs (the JDK would use its `cacerts`).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A secure client's certificates, as PEM.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The trusted CAs.
    pub ca_pem: String,
    /// The client's certificate chain and key, when it has a keystore.
    pub identity: Option<(String, String)>,
    /// Whether the server's certificate must name the host connected to.
    pub hostname_verification: bool,
}

/// The TLS a client uses, from system properties: None unless
/// `zookeeper.client.secure=true`.
pub fn client_tls(props: &BTreeMap<String, String>) -> Result<Option<ClientTls>, TlsError> {
    if zk_property(props, "client.secure") != Some("true") {
        return Ok(None);
    }
    let spec = |which| store(props, "ssl", which).map_err(TlsError::Settings);
    let ca_pem = match spec("trustStore")? {
        Some(s) => load_trust_store(&s)?.iter().map(cert_pem).collect(),
        None => std::fs::read_to_string(SYSTEM_CAS).map_err(|e| TlsError::Store {
            path: Path::new(SYSTEM_CAS).to_path_buf(),
            reason: format!("no zookeeper.ssl.trustStore.location, and the system CAs: {e}"),
        })?,
    };
    let identity = match spec("keyStore")? {
        Some(s) => {
            let m = load_key_store(&s)?;
            Some((m.chain.iter().map(cert_pem).collect(), key_pem(&m.key)))
        }
        None => None,
    };
    Ok(Some(ClientTls {
        ca_pem,
        identity,
        hostname_verification: zk_property(props, "ssl.hostnameVerification") != Some("false"),
    }))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn cert_pem(c: &CertificateDer<'_>) -> String {
    pem("CERTIFICATE", c.as_ref())
}

fn key_pem(k: &PrivateKeyDer<'_>) -> String {
    let label = match k {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    pem(label, k.secret_der())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_plaintext_unless_secure() {
        let mut props = BTreeMap::new();
        assert!(client_tls(&props).unwrap().is_none());
        props.insert("zookeeper.client.secure".into(), "false".into());
        assert!(client_tls(&props).unwrap().is_none());
    }

    #[test]
    fn a_missing_store_is_an_error_naming_it() {
        let mut props = BTreeMap::new();
        props.insert("zookeeper.client.secure".into(), "true".into());
        props.insert(
            "zookeeper.ssl.trustStore.location".into(),
            "/nonexistent/trust.jks".into(),
        );
        let e = client_tls(&props).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/trust.jks"), "{e}");
    }

    #[test]
    fn pem_lines_are_64_columns_and_round_trip() {
        let der: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let text = pem("CERTIFICATE", &der);
        assert!(text
            .lines()
            .all(|l| l.len() <= 64 || l.starts_with("-----")));
        let back: Vec<CertificateDer<'static>> =
            rustls_pki_types::pem::PemObject::pem_slice_iter(text.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(back[0].as_ref(), &der[..]);
    }
}
