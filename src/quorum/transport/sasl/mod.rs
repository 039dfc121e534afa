//! SASL (DIGEST-MD5) between quorum peers, as ZooKeeper 3.8's SaslQuorumAuthLearner and
//! SaslQuorumAuthServer run it on both quorum ports: after the election initial message
//! (QuorumCnxManager.startConnection / handleConnection) and first thing on a learner's
//! connection to the leader (Learner.connectToLeader / LearnerHandler.run).
//!
//! - the dialer ("learner"), with `quorum.auth.learnerRequireSasl`, sends an IN_PROGRESS
//!   packet with an empty token (DIGEST-MD5 has no initial response), answers the
//!   challenge, and checks the `rspauth` of the SUCCESS packet; without the flag it sends
//!   nothing at all;
//! - the acceptor ("server") looks at the next 8 bytes: without the magic, the peer is
//!   let in unless `quorum.auth.serverRequireSasl`; with it, the exchange runs, ending in
//!   SUCCESS, or ERROR with an empty token on a failure, after which the connection is
//!   closed if SASL is required and kept otherwise (ZooKeeper's rolling-upgrade path);
//! - every read is exact, so nothing after the exchange is consumed; the acceptor's look
//!   at 8 bytes that were not an auth packet hands them back to the caller.
//!
//! The whole exchange is bounded by `initLimit * tickTime` (Java's read timeout on the
//! learner's socket to the leader; the election port bounds it further by its own
//! `syncLimit * tickTime`) and tokens by [`packet::MAX_TOKEN`]; a failure fails only that
//! connection, with a log line.

pub(crate) mod packet;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::QuorumSaslConfig;
use crate::server::sasl::digest_md5::{DigestMd5Error, DigestMd5Server, Service, Step};
use crate::server::sasl::digest_md5_client::DigestMd5Client;
use packet::{AuthPacket, Status, HEADER_LEN, MAGIC};

/// Why a quorum SASL exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QuorumAuthError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad QuorumAuthPacket: {0}")]
    Packet(String),
    #[error("DIGEST-MD5: {0}")]
    Mechanism(#[from] DigestMd5Error),
    #[error("Authentication failed against server addr: {0} (it answered ERROR)")]
    Refused(SocketAddr),
    #[error("Learner not trying to authenticate and authentication is required")]
    NotAuthenticating,
    #[error("no DIGEST-MD5 username and password in the JAAS section {0}")]
    NoLogin(String),
    #[error("the exchange took longer than {0:?}")]
    Timeout(Duration),
}

/// Reads exactly, first from bytes already read off the stream.
struct Rewind<'a, S> {
    pending: BytesMut,
    stream: &'a mut S,
}

impl<S: AsyncRead + Unpin> Rewind<'_, S> {
    async fn fill(&mut self, n: usize) -> std::io::Result<()> {
        while self.pending.len() < n {
            let mut chunk = vec![0u8; n - self.pending.len()];
            self.stream.read_exact(&mut chunk).await?;
            self.pending.extend_from_slice(&chunk);
        }
        Ok(())
    }

    async fn packet(&mut self) -> Result<AuthPacket, QuorumAuthError> {
        self.fill(HEADER_LEN).await?;
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.pending[..HEADER_LEN]);
        let (status, len) = AuthPacket::decode_header(&h)?;
        self.pending.advance(HEADER_LEN);
        let token = match len {
            None => None,
            Some(n) => {
                self.fill(n).await?;
                Some(self.pending.split_to(n).to_vec())
            }
        };
        Ok(AuthPacket { status, token })
    }
}

/// writeRecord and flush: one packet.
async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: Status,
    token: &[u8],
) -> std::io::Result<()> {
    stream
        .write_all(&AuthPacket::new(status, token).encode())
        .await?;
    stream.flush().await
}

/// An unguessable client or server nonce: 30 random bytes in base64, as the JDK's.
fn new_nonce() -> Result<String, DigestMd5Error> {
    let mut b = [0u8; 30];
    getrandom::getrandom(&mut b).map_err(|e| DigestMd5Error::NoRandomness(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(b))
}

/// The quorum's SASL: off (NullQuorumAuthLearner/Server) or DIGEST-MD5.
#[derive(Debug)]
pub(crate) struct QuorumAuth {
    cfg: Option<QuorumSaslConfig>,
    timeout: Duration,
}

impl QuorumAuth {
    /// From the config; `timeout` bounds each exchange (`initLimit * tickTime`).
    pub(crate) fn new(cfg: Option<&QuorumSaslConfig>, timeout: Duration) -> Arc<QuorumAuth> {
        if let Some(c) = cfg {
            tracing::info!(
                "quorum SASL (DIGEST-MD5) enabled: learnerRequireSasl={}, serverRequireSasl={}, \
                 {} user(s) in {}",
                c.learner_require,
                c.server_require,
                c.users.len(),
                c.server_context
            );
        }
        Arc::new(QuorumAuth {
            cfg: cfg.cloned(),
            timeout: timeout.max(Duration::from_secs(1)),
        })
    }

    /// No quorum SASL.
    pub(crate) fn none() -> Arc<QuorumAuth> {
        Arc::new(QuorumAuth {
            cfg: None,
            timeout: Duration::from_secs(1),
        })
    }

    /// The dialer's side (QuorumAuthLearner.authenticate) against `peer`.
    pub(crate) async fn authenticate_learner<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        peer: SocketAddr,
    ) -> Result<(), QuorumAuthError> {
        let Some(cfg) = &self.cfg else {
            return Ok(());
        };
        if !cfg.learner_require {
            tracing::info!("Skipping SASL authentication as quorum.auth.learnerRequireSasl=false");
            return Ok(());
        }
        let (user, password) = cfg
            .login
            .as_ref()
            .ok_or_else(|| QuorumAuthError::NoLogin(cfg.learner_context.clone()))?;
        let run = learner_exchange(stream, user, password, peer);
        let r = tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or(Err(QuorumAuthError::Timeout(self.timeout)));
        match &r {
            Ok(()) => tracing::info!(
                "Successfully completed the authentication using SASL. server addr: {peer}, status: SUCCESS"
            ),
            Err(e) => tracing::error!("quorum SASL authentication to {peer} failed: {e}"),
        }
        r
    }

    /// The acceptor's side (QuorumAuthServer.authenticate) for `peer`, `pending` being what
    /// was already read after the initial message. Returns the bytes read that belong to
    /// what follows; an error means the connection must be closed.
    pub(crate) async fn authenticate_server<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        pending: BytesMut,
        peer: SocketAddr,
    ) -> Result<BytesMut, QuorumAuthError> {
        let Some(cfg) = &self.cfg else {
            return Ok(pending);
        };
        let mut rd = Rewind { pending, stream };
        let run = server_exchange(&mut rd, cfg);
        let r = tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or(Err(QuorumAuthError::Timeout(self.timeout)));
        match r {
            Ok(Some(user)) => tracing::info!(
                "Successfully authenticated learner: authenticationID={user}; authorizationID={user}. learner addr: {peer}"
            ),
            Ok(None) if cfg.server_require => {
                tracing::error!("Failed to authenticate using SASL, learner addr: {peer}: no auth packet");
                return Err(QuorumAuthError::NotAuthenticating);
            }
            Ok(None) => tracing::debug!("learner {peer} does not authenticate; let in"),
            Err(e) if cfg.server_require => {
                tracing::error!("Failed to authenticate using SASL, learner addr: {peer}: {e}");
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(
                    "Failed to authenticate using SASL ({e}); maintaining learner connection \
                     despite SASL authentication failure. server addr: {peer}, \
                     quorum.auth.serverRequireSasl: false"
                );
            }
        }
        Ok(rd.pending)
    }
}

async fn learner_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    user: &str,
    password: &str,
    peer: SocketAddr,
) -> Result<(), QuorumAuthError> {
    let mut client = DigestMd5Client::new(Service::QUORUM, user, password);
    send(stream, Status::InProgress, &[]).await?;
    let mut rd = Rewind {
        pending: BytesMut::new(),
        stream,
    };
    // At most the challenge and the final SUCCESS: a longer exchange is not DIGEST-MD5.
    for _ in 0..2 {
        let p = rd.packet().await?;
        let token = p.token.unwrap_or_default();
        match p.status {
            Status::InProgress => {
                let response = client.respond(&token, &new_nonce()?)?;
                send(rd.stream, Status::InProgress, &response).await?;
            }
            Status::Success => {
                client.finish(&token)?;
                if client.is_complete() {
                    return Ok(());
                }
            }
            Status::Error => return Err(QuorumAuthError::Refused(peer)),
        }
    }
    Err(QuorumAuthError::Packet(
        "no SUCCESS after the response".into(),
    ))
}

/// `Ok(None)`: the peer sent no auth packet; `Ok(Some(user))`: it authenticated.
async fn server_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    rd: &mut Rewind<'_, S>,
    cfg: &QuorumSaslConfig,
) -> Result<Option<String>, QuorumAuthError> {
    // QuorumAuth.nextPacketIsAuth: a look at the next long.
    rd.fill(8).await?;
    if rd.pending[..8] != MAGIC.to_be_bytes() {
        return Ok(None);
    }
    let mut server = DigestMd5Server::new(Service::QUORUM);
    let users = |u: &str| {
        let p = cfg.users.get(u).cloned();
        if p.is_none() {
            tracing::warn!("User '{u}' not found in list of DIGEST-MD5 authenticateable users.");
        }
        p
    };
    let result = async {
        // The first token (empty from Java) gets the challenge, the second the verdict.
        for _ in 0..2 {
            let p = rd.packet().await?;
            let token = p.token.unwrap_or_default();
            match server.evaluate(&token, new_nonce, users)? {
                Step::Challenge(c) => send(rd.stream, Status::InProgress, &c).await?,
                Step::Success {
                    rspauth,
                    authorization_id,
                } => {
                    send(rd.stream, Status::Success, &rspauth).await?;
                    return Ok(authorization_id);
                }
            }
        }
        Err(QuorumAuthError::Packet(
            "no response to the challenge".into(),
        ))
    }
    .await;
    match result {
        Ok(user) => Ok(Some(user)),
        Err(e) => {
            // Tell the learner, as SaslQuorumAuthServer does; it may be gone already.
            let _ = send(rd.stream, Status::Error, &[]).await;
            Err(e)
        }
    }
}
