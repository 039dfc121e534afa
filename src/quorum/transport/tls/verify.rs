//! How a quorum peer's certificate is checked, as ZooKeeper's ZKTrustManager does it: the
//! chain against the truststore (rustls's webpki verifiers; a dialer ignores the name it
//! dialed, which Java never checks by endpoint identification), then, with
//! `ssl.quorum.hostnameVerification`, the peer's address against the leaf certificate on
//! both ends (QuorumX509Util verifies the dialer's address too): ZKHostnameVerifier's
//! rules on the IP address first, then on the name a reverse lookup gives it.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The dialer's verifier: the chain as webpki checks it (validity, CA, serverAuth usage),
/// whatever name it was given; the address is checked after the handshake.
#[derive(Debug)]
pub(super) struct ChainOnly(pub(super) Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // webpki checks the name last: a name mismatch means the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The names a certificate answers to: its DNS and IP subject alternative names, or (only
/// when it has none of those) its subject's common name.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct CertNames {
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    cn: Option<String>,
}

impl CertNames {
    pub(super) fn of(der: &[u8]) -> Result<CertNames, String> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
        let mut names = CertNames::default();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => names.dns.push(d.to_ascii_lowercase()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            names.ips.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            names.ips.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        if names.dns.is_empty() && names.ips.is_empty() {
            // The most specific (last) CN, as ZKHostnameVerifier.extractCN takes it.
            names.cn = cert
                .subject()
                .iter_common_name()
                .last()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase);
        }
        Ok(names)
    }

    fn has_alt_names(&self) -> bool {
        !self.dns.is_empty() || !self.ips.is_empty()
    }

    /// Whether the certificate names this address (matchIPAddress / matchIPv6Address, or
    /// the CN as a literal when there are no alternative names).
    pub(super) fn matches_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if self.has_alt_names() {
            return self.ips.iter().any(|a| canonical(*a) == ip);
        }
        self.cn
            .as_deref()
            .and_then(|cn| cn.parse::<IpAddr>().ok())
            .is_some_and(|a| canonical(a) == ip)
    }

    /// Whether the certificate names this host (matchDNSName, matchCN): exact, or a
    /// wildcard in the leftmost label that stands for one label.
    pub(super) fn matches_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.has_alt_names() {
            return self.dns.iter().any(|d| identity_matches(&host, d));
        }
        self.cn
            .as_deref()
            .is_some_and(|cn| identity_matches(&host, cn))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// DefaultHostnameVerifier.matchIdentityStrict without the public-suffix list.
fn identity_matches(host: &str, identity: &str) -> bool {
    let identity = identity.trim_end_matches('.');
    let (Some((first, rest)), Some((host_first, host_rest))) =
        (identity.split_once('.'), host.split_once('.'))
    else {
        return host == identity;
    };
    match first.split_once('*') {
        None => host == identity,
        Some((prefix, suffix)) => {
            host_rest == rest
                && host_first.len() >= prefix.len() + suffix.len()
                && host_first.starts_with(prefix)
                && host_first.ends_with(suffix)
        }
    }
}

/// The host name of an address by reverse lookup (InetAddress.getHostName), if any.
fn reverse_lookup(ip: IpAddr) -> Option<String> {
    let sa = std::net::SocketAddr::new(ip, 0);
    let (storage, len) = sockaddr(&sa);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes, `host` is a writable
    // buffer of the length passed, and no service buffer is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo succeeded, so `host` holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_string)
}

fn sockaddr(sa: &std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match sa {
        std::net::SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.ip().octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// How long the reverse lookup of a peer's address may take; past it the address alone
/// decides.
const REVERSE_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// ZKTrustManager.performHostVerification: the peer's leaf certificate must name its IP
/// address, or failing that the name its address reverses to.
pub(super) async fn verify_peer_address(leaf: &[u8], ip: IpAddr) -> Result<(), String> {
    let names = CertNames::of(leaf)?;
    if names.matches_ip(ip) {
        return Ok(());
    }
    let ip = canonical(ip);
    // Bounded: a resolver that does not answer must not hold the connection's slot.
    let lookup = tokio::task::spawn_blocking(move || reverse_lookup(ip));
    let host = tokio::time::timeout(REVERSE_LOOKUP_TIMEOUT, lookup)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    match host {
        Some(h) if names.matches_host(&h) => Ok(()),
        Some(h) => Err(format!(
            "the certificate names neither {ip} nor {h} (hostname verification)"
        )),
        None => Err(format!(
            "the certificate does not name {ip} (hostname verification)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_stand_for_one_leftmost_label() {
        assert!(identity_matches("zk1.example.com", "*.example.com"));
        assert!(identity_matches("zk1.example.com", "zk*.example.com"));
        assert!(!identity_matches("a.zk1.example.com", "*.example.com"));
        assert!(!identity_matches("example.com", "*.example.com"));
        assert!(!identity_matches("zk1.example.org", "*.example.com"));
        assert!(identity_matches("localhost", "localhost"));
        assert!(!identity_matches("localhost", "*"));
    }

    fn names(dns: &[&str], ips: &[&str], cn: Option<&str>) -> CertNames {
        CertNames {
            dns: dns.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            cn: cn.map(str::to_string),
        }
    }

    #[test]
    fn alt_names_win_over_the_common_name() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let n = names(&["localhost"], &["127.0.0.1"], None);
        assert!(n.matches_ip(lo) && n.matches_ip(mapped));
        assert!(!n.matches_ip("127.0.0.2".parse().unwrap()));
        assert!(n.matches_host("LOCALHOST."));
        // A DNS name alone does not name an address.
        assert!(!names(&["127.0.0.1"], &[], None).matches_ip(lo));
        // Without alternative names the CN counts, as a literal address too.
        assert!(names(&[], &[], Some("127.0.0.1")).matches_ip(lo));
        assert!(names(&[], &[], Some("localhost")).matches_host("localhost"));
        assert!(!names(&[], &[], None).matches_host("localhost"));
    }

    #[test]
    fn the_test_server_certificate_names_loopback() {
        let pem = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/tls_stores/server-store.pem"),
        )
        .unwrap();
        use rustls_pki_types::pem::PemObject;
        let leaf = CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap();
        let n = CertNames::of(&leaf).unwrap();
        assert!(n.matches_ip("127.0.0.1".parse().unwrap()));
        assert!(!n.matches_ip("10.1.2.3".parse().unwrap()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt
            .block_on(verify_peer_address(&leaf, "127.0.0.1".parse().unwrap()))
            .is_ok());
    }
}
