//! The learner's end (Learner.connectToLeader): one link to the leader's quorum port.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::io::spawn_link;
use super::{LinkEvent, LinkHandle, LinkLimits, Side};
use crate::quorum::transport::sasl::QuorumAuth;
use crate::quorum::transport::tls::QuorumTls;
use crate::quorum::transport::TransportError;

/// Connects to the leader at `addr` within `limits.connect_timeout` (then, with
/// `sslQuorum`, handshakes within the TLS handshake timeout) and starts the link's
/// tasks. Its events, `Opened` first, go to `events` like a listener's; the returned
/// handle is the one `Opened` carries. With quorum SASL, it authenticates first
/// (Learner.connectToLeader), within the exchange's own timeout. The link's reader hands a SNAP over together with
/// the raw snapshot that follows it, as one [`LinkEvent::Snapshot`].
pub(crate) async fn connect_leader(
    addr: SocketAddr,
    limits: &LinkLimits,
    tls: &QuorumTls,
    auth: &QuorumAuth,
    events: mpsc::Sender<LinkEvent>,
    cancel: &CancellationToken,
) -> Result<LinkHandle, TransportError> {
    let err = |reason: String| TransportError::Leader {
        addr: addr.to_string(),
        reason,
    };
    let connect = tokio::time::timeout(limits.connect_timeout, TcpStream::connect(addr));
    let stream = tokio::select! {
        _ = cancel.cancelled() => return Err(err("cancelled while connecting".into())),
        s = connect => s,
    }
    .map_err(|_| {
        err(format!(
            "connect timed out after {:?}",
            limits.connect_timeout
        ))
    })?
    .map_err(|e| err(e.to_string()))?;
    // Learner.createSocket: TCP_NODELAY (learner.tcpNoDelay defaults to true).
    stream.set_nodelay(true).map_err(|e| err(e.to_string()))?;
    let mut stream = tokio::select! {
        _ = cancel.cancelled() => return Err(err("cancelled during the TLS handshake".into())),
        s = tls.connect(stream, addr) => s.map_err(err)?,
    };
    tokio::select! {
        _ = cancel.cancelled() => return Err(err("cancelled during quorum SASL".into())),
        r = auth.authenticate_learner(&mut stream, addr) => {
            r.map_err(|e| err(format!("quorum SASL: {e}")))?
        }
    };
    Ok(spawn_link(
        stream,
        addr,
        Side::Learner,
        *limits,
        events,
        cancel,
        None,
    ))
}
