//! Java's protocol and cipher suite names (`ssl.enabledProtocols`, `ssl.ciphersuites`) as
//! rustls versions and suites. Java spells TLS 1.3 suites `TLS_AES_128_GCM_SHA256` where
//! rustls writes `TLS13_AES_128_GCM_SHA256`; TLS 1.2 names are IANA's in both.

use rustls::crypto::ring;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

use super::TlsError;

/// The rustls versions for Java protocol names; names rustls lacks (SSLv3, TLSv1,
/// TLSv1.1) are left out with a warning.
pub(crate) fn versions(
    names: &[String],
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let mut out: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for n in names {
        let found: &[&'static SupportedProtocolVersion] = match n.as_str() {
            "TLSv1.2" => &[&rustls::version::TLS12],
            "TLSv1.3" => &[&rustls::version::TLS13],
            // SSLContext.getInstance("TLS") enables what the JDK has.
            "TLS" => &[&rustls::version::TLS13, &rustls::version::TLS12],
            other => {
                tracing::warn!("ssl protocol {other} is not supported here; left out");
                &[]
            }
        };
        for v in found {
            if !out.iter().any(|o| o.version == v.version) {
                out.push(v);
            }
        }
    }
    if out.is_empty() {
        return Err(TlsError::Settings(format!(
            "no usable protocol in {}",
            names.join(",")
        )));
    }
    Ok(out)
}

/// The Java name of a rustls suite.
fn java_name(s: &SupportedCipherSuite) -> String {
    let name = s.suite().as_str().unwrap_or_default();
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    }
}

/// The suites for `ssl.ciphersuites` (in its order), or ring's defaults when unset.
/// Names rustls does not implement (CBC suites, RSA key exchange) are left out.
pub(crate) fn cipher_suites(
    names: Option<&[String]>,
) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let all = ring::ALL_CIPHER_SUITES;
    let Some(names) = names else {
        return Ok(ring::DEFAULT_CIPHER_SUITES.to_vec());
    };
    let mut out = Vec::new();
    for n in names {
        match all.iter().find(|s| java_name(s) == *n) {
            Some(s) => out.push(*s),
            None => tracing::warn!("cipher suite {n} is not supported here; left out"),
        }
    }
    if out.is_empty() {
        return Err(TlsError::Settings(format!(
            "no usable cipher suite in {}",
            names.join(",")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn java_suite_names_map_to_rustls() {
        let got = cipher_suites(Some(&s(&[
            "TLS_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ])))
        .unwrap();
        let names: Vec<String> = got.iter().map(java_name).collect();
        assert_eq!(
            names,
            [
                "TLS_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert!(cipher_suites(Some(&s(&["SSL_RSA_WITH_RC4_128_MD5"]))).is_err());
        assert!(!cipher_suites(None).unwrap().is_empty());
    }

    #[test]
    fn protocol_names() {
        let v = versions(&s(&["TLSv1.3", "TLSv1.1", "TLSv1.2"])).unwrap();
        assert_eq!(v.len(), 2);
        assert!(versions(&s(&["TLSv1"])).is_err());
        assert_eq!(versions(&s(&["TLS"])).unwrap().len(), 2);
    }
}
