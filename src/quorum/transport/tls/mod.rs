//! TLS on the quorum ports (`sslQuorum`, `portUnification`, `sslQuorumReloadCertFiles`,
//! `ssl.quorum.*`), for the election port (QuorumCnxManager, both directions) and the
//! learner's connection to the leader's quorum port, as ZooKeeper 3.8 does it:
//!
//! - a dialer with `sslQuorum` handshakes as a TLS client presenting its keystore's
//!   certificate (Learner.createSocket, QuorumCnxManager.initiateConnection); without it,
//!   it speaks plaintext even to a unified port;
//! - an acceptor (UnifiedServerSocket) looks at the first bytes within
//!   `ssl.quorum.handshakeDetectionTimeoutMillis`: a TLS record gets the handshake,
//!   anything else is plaintext with `portUnification` and is closed otherwise
//!   ("Blocked insecure connection attempt");
//! - both ends verify the peer's chain against `ssl.quorum.trustStore` (the acceptor
//!   asks for a certificate unless `ssl.quorum.clientAuth=none`) and, with
//!   `ssl.quorum.hostnameVerification` (default true), the peer's address against its
//!   certificate (`verify.rs`);
//! - with `sslQuorumReloadCertFiles`, a connection made after a store's file changed uses
//!   the new stores (ZooKeeper's FileChangeWatcher resets the SSL context the same way).
//!
//! Every handshake is bounded by [`HANDSHAKE_TIMEOUT`]; a failure closes that connection
//! only, with a log line.

mod stream;
mod verify;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::net::TcpStream;

pub(crate) use stream::QuorumStream;

use crate::config::{ClientAuth, QuorumTlsConfig};
use crate::server::tls::{keystore, suites, TlsError};

/// How long a quorum TLS handshake may take once started.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a connection's first byte opens a TLS record (what UnifiedServerSocket asks
/// Netty's SslHandler.isEncrypted). An election initial message starts with the protocol
/// version (0xff) or an old sid (0x00), a Zab packet with its length's high byte (0x00).
fn looks_like_tls(first: u8) -> bool {
    crate::server::tls::accept::looks_like_tls(first)
}

/// The rustls ends built from the stores.
struct Contexts {
    connector: tokio_rustls::TlsConnector,
    acceptor: tokio_rustls::TlsAcceptor,
}

/// What identifies a store file's version: modification time, length, inode.
type Stamp = Vec<Option<(SystemTime, u64, u64)>>;

fn stamp(files: &[PathBuf]) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())))
        })
        .collect()
}

struct Loaded {
    stamp: Stamp,
    contexts: Option<Arc<Contexts>>,
}

/// The quorum ports' security: plaintext, TLS, or both on the acceptors.
pub(crate) struct QuorumTls {
    cfg: Option<QuorumTlsConfig>,
    files: Vec<PathBuf>,
    loaded: Mutex<Loaded>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for QuorumTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumTls").field("cfg", &self.cfg).finish()
    }
}

fn settings(msg: &str) -> TlsError {
    TlsError::Settings(msg.to_string())
}

fn build(cfg: &QuorumTlsConfig) -> Result<Contexts, TlsError> {
    let ks = cfg
        .key_store
        .as_ref()
        .ok_or_else(|| settings("quorum TLS needs ssl.quorum.keyStore.location"))?;
    let ts = cfg
        .trust_store
        .as_ref()
        .ok_or_else(|| settings("quorum TLS needs ssl.quorum.trustStore.location"))?;
    let key = keystore::load_key_store(ks)?;
    let mut roots = RootCertStore::empty();
    for c in keystore::load_trust_store(ts)? {
        roots.add(c).map_err(|e| TlsError::Store {
            path: ts.location.clone(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    let roots = Arc::new(roots);
    // ring, as on the client port.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = suites::cipher_suites(cfg.cipher_suites.as_deref())?;
    let provider = Arc::new(provider);
    let versions = suites::versions(&cfg.enabled_protocols)?;

    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?;
    let server = if cfg.client_auth == ClientAuth::None {
        server.with_no_client_auth()
    } else {
        let mut v = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        if cfg.client_auth == ClientAuth::Want {
            v = v.allow_unauthenticated();
        }
        let v = v
            .build()
            .map_err(|e| TlsError::Settings(format!("peer certificate verifier: {e}")))?;
        server.with_client_cert_verifier(v)
    };
    let server = server.with_single_cert(key.chain.clone(), key.key.clone_key())?;

    let chain = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsError::Settings(format!("peer certificate verifier: {e}")))?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verify::ChainOnly(chain)))
        .with_client_auth_cert(key.chain, key.key)?;
    Ok(Contexts {
        connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
    })
}

impl QuorumTls {
    /// Plaintext quorum ports.
    pub(crate) fn plain() -> Arc<QuorumTls> {
        Arc::new(QuorumTls {
            cfg: None,
            files: Vec::new(),
            loaded: Mutex::new(Loaded {
                stamp: Vec::new(),
                contexts: None,
            }),
            handshake_timeout: HANDSHAKE_TIMEOUT,
        })
    }

    /// Reads the stores (a bad one stops start-up). With `portUnification` alone and no
    /// keystore, the ports take plaintext only until one is configured.
    pub(crate) fn new(cfg: Option<&QuorumTlsConfig>) -> Result<Arc<QuorumTls>, TlsError> {
        let Some(cfg) = cfg else {
            return Ok(QuorumTls::plain());
        };
        let files: Vec<PathBuf> = [&cfg.key_store, &cfg.trust_store]
            .into_iter()
            .flatten()
            .map(|s| s.location.clone())
            .collect();
        let stamp = stamp(&files);
        let contexts = if cfg.ssl_quorum || cfg.key_store.is_some() {
            Some(Arc::new(build(cfg)?))
        } else {
            tracing::warn!(
                "portUnification without ssl.quorum.keyStore.location: TLS quorum connections will be refused"
            );
            None
        };
        if cfg.ssl_quorum {
            tracing::info!("Using TLS encrypted quorum communication");
        }
        if cfg.port_unification {
            tracing::info!("Port unification enabled on the quorum ports");
        }
        Ok(Arc::new(QuorumTls {
            cfg: Some(cfg.clone()),
            files,
            loaded: Mutex::new(Loaded { stamp, contexts }),
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }))
    }

    /// The same with another handshake timeout (tests).
    #[cfg(test)]
    pub(crate) fn with_handshake_timeout(cfg: &QuorumTlsConfig, t: Duration) -> Arc<QuorumTls> {
        let q = QuorumTls::new(Some(cfg)).expect("stores");
        let mut q = Arc::try_unwrap(q).expect("unshared");
        q.handshake_timeout = t;
        Arc::new(q)
    }

    /// Whether this server dials with TLS (`sslQuorum`).
    pub(crate) fn dials_tls(&self) -> bool {
        self.cfg.as_ref().is_some_and(|c| c.ssl_quorum)
    }

    /// The current contexts; with `sslQuorumReloadCertFiles`, rebuilt first when a store
    /// file changed (a store that no longer loads keeps the old contexts, with an error).
    fn contexts(&self) -> Option<Arc<Contexts>> {
        let cfg = self.cfg.as_ref()?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if cfg.reload_cert_files {
            let now = stamp(&self.files);
            if now != loaded.stamp {
                loaded.stamp = now;
                match build(cfg) {
                    Ok(c) => {
                        tracing::info!("quorum TLS: reloaded the key and trust stores");
                        loaded.contexts = Some(Arc::new(c));
                    }
                    Err(e) => tracing::error!(
                        "quorum TLS: the changed stores do not load, keeping the old ones: {e}"
                    ),
                }
            }
        }
        loaded.contexts.clone()
    }

    /// The dialer's end: TLS with `sslQuorum`, else the plain stream.
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Result<QuorumStream, String> {
        if !self.dials_tls() {
            return Ok(QuorumStream::Plain(tcp));
        }
        let ctx = self
            .contexts()
            .ok_or_else(|| "no quorum TLS context".to_string())?;
        let name = ServerName::IpAddress(peer.ip().into());
        let s = tokio::time::timeout(self.handshake_timeout, ctx.connector.connect(name, tcp))
            .await
            .map_err(|_| format!("no TLS handshake within {:?}", self.handshake_timeout))?
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        let (_, conn) = s.get_ref();
        let leaf = conn.peer_certificates().and_then(|c| c.first()).cloned();
        tracing::info!(
            "SSL handshake complete with {peer} - {} - {}",
            protocol_name(conn.protocol_version()),
            suite_name(conn.negotiated_cipher_suite())
        );
        self.verify_address(leaf.as_deref(), peer).await?;
        Ok(QuorumStream::Tls(Box::new(s.into())))
    }

    /// The acceptor's end: plaintext on a plaintext port; on a TLS or unified port, the
    /// first byte decides (within the detection timeout).
    pub(crate) async fn accept(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Result<QuorumStream, String> {
        let Some(cfg) = &self.cfg else {
            return Ok(QuorumStream::Plain(tcp));
        };
        let detection = Duration::from_millis(cfg.detection_timeout_ms);
        let mut first = [0u8; 1];
        let tls = match tokio::time::timeout(detection, tcp.peek(&mut first)).await {
            Ok(Ok(0)) => return Err("closed before sending anything".into()),
            Ok(Ok(_)) => looks_like_tls(first[0]),
            Ok(Err(e)) => return Err(e.to_string()),
            // UnifiedServerSocket: nothing within the timeout is taken for plaintext.
            Err(_) => false,
        };
        if !tls {
            if cfg.port_unification {
                tracing::info!("Accepted plaintext connection from {peer}");
                return Ok(QuorumStream::Plain(tcp));
            }
            return Err("Blocked insecure connection attempt (not TLS)".into());
        }
        let ctx = self
            .contexts()
            .ok_or_else(|| "a TLS connection, but no quorum keystore".to_string())?;
        let s = tokio::time::timeout(self.handshake_timeout, ctx.acceptor.accept(tcp))
            .await
            .map_err(|_| format!("no TLS handshake within {:?}", self.handshake_timeout))?
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        let (_, conn) = s.get_ref();
        let leaf = conn.peer_certificates().and_then(|c| c.first()).cloned();
        tracing::info!(
            "Accepted TLS connection from {peer} - {} - {}",
            protocol_name(conn.protocol_version()),
            suite_name(conn.negotiated_cipher_suite())
        );
        self.verify_address(leaf.as_deref(), peer).await?;
        Ok(QuorumStream::Tls(Box::new(s.into())))
    }

    /// ZKTrustManager's host verification, when on and the peer showed a certificate.
    async fn verify_address(&self, leaf: Option<&[u8]>, peer: SocketAddr) -> Result<(), String> {
        let on = self.cfg.as_ref().is_some_and(|c| c.hostname_verification);
        match leaf {
            Some(der) if on => verify::verify_peer_address(der, peer.ip()).await,
            _ => Ok(()),
        }
    }
}

fn protocol_name(v: Option<rustls::ProtocolVersion>) -> String {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(other) => format!("{other:?}"),
        None => "?".into(),
    }
}

fn suite_name(s: Option<rustls::SupportedCipherSuite>) -> String {
    s.and_then(|s| s.suite().as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
