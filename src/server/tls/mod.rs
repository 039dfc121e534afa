//! TLS on the client port (ZooKeeper's NettyServerCnxnFactory with `secureClientPort` or
//! `client.portUnification`), and the `x509` identity of a certificate-authenticated
//! session (X509AuthenticationProvider).
//!
//! - `keystore.rs`: PKCS12, JKS and PEM stores;
//! - `suites.rs`: Java protocol and cipher suite names;
//! - `x500.rs`: certificate subjects in Java's RFC 2253 form, the `x509:` ids;
//! - `writer.rs`: a TLS connection's writer task;
//! - `accept.rs`: the handshake (bounded in time), port unification's sniffing, and the
//!   identities a session starts with.

pub(crate) mod accept;
pub mod client;
pub(crate) mod keystore;
pub(crate) mod suites;
pub(crate) mod writer;
pub(crate) mod x500;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::config::{ClientAuth, TlsConfig};

/// Why the client port's TLS could not be set up; start-up stops.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A keystore or truststore could not be read.
    #[error("{path}: {reason}")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The settings do not make a usable TLS server.
    #[error("TLS settings: {0}")]
    Settings(String),
    /// rustls refused the key, the certificates or the versions.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Netty's SslHandler gives a handshake 10 s; so does this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a certificate-authenticated session becomes (CertificateVerifier in ZooKeeper).
#[derive(Debug, Clone)]
pub(crate) enum X509Auth {
    /// The `x509` provider is registered: the session gets `x509:<subject>` (and `super`
    /// when the subject is `X509AuthenticationProvider.superUser`).
    Provider {
        /// `zookeeper.X509AuthenticationProvider.superUser`.
        super_user: Option<String>,
    },
    /// `ssl.authProvider` names a scheme without a provider: ZooKeeper closes every
    /// connection that presents a certificate ("X509 Auth provider not found").
    Missing {
        /// The scheme `ssl.authProvider` names.
        scheme: String,
    },
}

/// The client port's TLS: the rustls acceptor and what the server does after a handshake.
pub(crate) struct ServerTls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    pub(crate) client_auth: ClientAuth,
    pub(crate) x509: X509Auth,
    pub(crate) handshake_timeout: Duration,
    pub(crate) detection_timeout: Duration,
}

impl ServerTls {
    /// Reads the stores and builds the server side of the handshake.
    pub(crate) fn build(cfg: &TlsConfig) -> Result<Arc<ServerTls>, TlsError> {
        let ks = cfg.key_store.as_ref().ok_or_else(|| {
            TlsError::Settings(
                "TLS needs ssl.keyStore.location (zookeeper.ssl.keyStore.location)".into(),
            )
        })?;
        let key = keystore::load_key_store(ks)?;
        // ring, not aws-lc (whose C and cmake build the project does without); its lack of
        // post-quantum key exchange, for which rustls deprecates it, costs nothing with
        // ZooKeeper 3.8's Java clients, which offer none.
        #[allow(deprecated)]
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = suites::cipher_suites(cfg.cipher_suites.as_deref())?;
        let provider = Arc::new(provider);
        let versions = suites::versions(&cfg.enabled_protocols)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let builder = if cfg.client_auth == ClientAuth::None {
            builder.with_no_client_auth()
        } else {
            let ts = cfg.trust_store.as_ref().ok_or_else(|| {
                TlsError::Settings(
                    "ssl.clientAuth need or want needs ssl.trustStore.location".into(),
                )
            })?;
            let mut roots = RootCertStore::empty();
            for c in keystore::load_trust_store(ts)? {
                roots.add(c).map_err(|e| TlsError::Store {
                    path: ts.location.clone(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let mut v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if cfg.client_auth == ClientAuth::Want {
                v = v.allow_unauthenticated();
            }
            let verifier = v
                .build()
                .map_err(|e| TlsError::Settings(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        };
        let server = builder.with_single_cert(key.chain, key.key)?;
        let x509 = if cfg.auth_provider_scheme == "x509" && cfg.x509_provider {
            X509Auth::Provider {
                super_user: cfg.x509_super_user.clone(),
            }
        } else {
            X509Auth::Missing {
                scheme: cfg.auth_provider_scheme.clone(),
            }
        };
        Ok(Arc::new(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            client_auth: cfg.client_auth,
            x509,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            detection_timeout: Duration::from_millis(cfg.detection_timeout_ms),
        }))
    }
}
