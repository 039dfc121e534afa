//! The leader's quorum port (Leader.LearnerCnxAcceptor): one link per accepted learner.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::io::spawn_link;
use super::{LinkEvent, LinkLimits, Side, EXTRA_LEARNER_LINKS};
use crate::config::Config;
use crate::quorum::transport::limits;
use crate::quorum::transport::sasl::QuorumAuth;
use crate::quorum::transport::tls::QuorumTls;
use crate::quorum::transport::view::{host_port, wildcard_for};
use crate::quorum::transport::TransportError;

/// The bound quorum port of `server.<myid>`, not yet accepting.
#[derive(Debug)]
pub(crate) struct LearnerListener {
    listener: TcpListener,
    local: SocketAddr,
    limits: LinkLimits,
    max_links: usize,
    tls: Arc<QuorumTls>,
    auth: Arc<QuorumAuth>,
}

impl LearnerListener {
    /// Binds the quorum port of `server.<myid>`: its host, or every address with
    /// `quorumListenOnAllIPs=true` (as the election port's view reads it).
    pub(crate) async fn bind(cfg: &Config) -> Result<LearnerListener, TransportError> {
        let my_id = cfg
            .my_id
            .ok_or_else(|| TransportError::Config("no myid".into()))?;
        let me = cfg
            .servers
            .get(&my_id)
            .or(cfg.my_server.as_ref())
            .ok_or_else(|| {
                TransportError::Config(format!("myid {my_id} has no server.{my_id} line"))
            })?;
        let host = if cfg.quorum_listen_on_all_ips {
            wildcard_for(&me.host)
        } else {
            &me.host
        };
        let bind_err = |source| TransportError::Bind {
            addr: host_port(host, me.quorum_port),
            source,
        };
        let listener = TcpListener::bind((host, me.quorum_port))
            .await
            .map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        Ok(LearnerListener {
            listener,
            local,
            limits: LinkLimits::from_config(cfg),
            max_links: cfg
                .servers
                .len()
                .saturating_mul(2)
                .saturating_add(EXTRA_LEARNER_LINKS),
            tls: QuorumTls::plain(),
            auth: QuorumAuth::none(),
        })
    }

    /// Where it listens (the port, when the configuration said 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Replaces the links' limits.
    pub(crate) fn with_limits(mut self, limits: LinkLimits) -> LearnerListener {
        self.limits = limits;
        self
    }

    /// Sets the quorum port's TLS (plaintext unless given).
    pub(crate) fn with_tls(mut self, tls: Arc<QuorumTls>) -> LearnerListener {
        self.tls = tls;
        self
    }

    /// Sets the quorum port's SASL (none unless given).
    pub(crate) fn with_auth(mut self, auth: Arc<QuorumAuth>) -> LearnerListener {
        self.auth = auth;
        self
    }

    /// Replaces the cap on live links (`2 × servers + EXTRA_LEARNER_LINKS`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_max_links(mut self, max_links: usize) -> LearnerListener {
        self.max_links = max_links;
        self
    }

    /// Accepts learners until `cancel` fires (which also closes every link, each with its
    /// `Closed`). A connection over the cap is closed at once, before any event: Java
    /// takes every learner, but a flood of sockets must not exhaust the leader.
    pub(crate) async fn run(self, events: mpsc::Sender<LinkEvent>, cancel: CancellationToken) {
        let live = Arc::new(Semaphore::new(self.max_links));
        tracing::info!(
            "accepting learners on {} (at most {} links)",
            self.local,
            self.max_links
        );
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => break,
                a = self.listener.accept() => a,
            };
            let (stream, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::error!("Exception while accepting follower: {e}");
                    tokio::time::sleep(limits::MIN_BACKOFF).await;
                    continue;
                }
            };
            let Ok(permit) = live.clone().try_acquire_owned() else {
                tracing::warn!(
                    "closing quorum connection from {addr}: {} learner links are up",
                    self.max_links
                );
                continue;
            };
            // LearnerCnxAcceptorHandler: TCP_NODELAY (the learner sets it too).
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!("closing quorum connection from {addr}: {e}");
                continue;
            }
            // The TLS handshake (or the plaintext check) in its own task, so a slow or
            // silent peer does not hold up the others; the permit is held meanwhile.
            let (tls, auth, limits, events, cancel) = (
                self.tls.clone(),
                self.auth.clone(),
                self.limits,
                events.clone(),
                cancel.clone(),
            );
            tokio::spawn(async move {
                let secured = tokio::select! {
                    _ = cancel.cancelled() => return,
                    s = tls.accept(stream, addr) => s,
                };
                let mut stream = match secured {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("closing quorum connection from {addr}: {e}");
                        return;
                    }
                };
                // LearnerHandler.run: quorum SASL before the learner info.
                let authed = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = auth.authenticate_server(&mut stream, bytes::BytesMut::new(), addr) => r,
                };
                let secured = match authed {
                    Ok(pending) => Ok(stream.rewound(pending)),
                    Err(e) => Err(format!(
                        "Server failed to authenticate quorum learner, closing connection: {e}"
                    )),
                };
                match secured {
                    Ok(stream) => {
                        tracing::info!("Follower sid connecting from {addr}");
                        spawn_link(
                            stream,
                            addr,
                            Side::Leader,
                            limits,
                            events,
                            &cancel,
                            Some(permit),
                        );
                    }
                    Err(e) => tracing::warn!("closing quorum connection from {addr}: {e}"),
                }
            });
        }
        tracing::info!("no longer accepting learners on {}", self.local);
    }
}
