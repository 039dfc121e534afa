//! A TLS connection from accept to the connection loop: port unification's look at the
//! first byte, the handshake within its time limit, and the identities the session starts
//! with. Every failure closes only this connection, with a log line.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{ServerTls, X509Auth};
use crate::config::{ClientAuth, Config};
use crate::proto::Id;
use crate::server::conn;
use crate::server::core::CoreMsg;
use crate::watch::ConnId;

/// Whether a connection's first byte opens a TLS record (Netty's SslHandler.isEncrypted
/// for what DualModeSslHandler sees): a handshake, alert, change-cipher-spec or data
/// record. A ZooKeeper frame starts with its length's high byte (0 below 16 MB) and a
/// four-letter word with a lowercase letter, so neither is taken for TLS.
pub(crate) fn looks_like_tls(first: u8) -> bool {
    (20..=23).contains(&first)
}

/// A connection on a `client.portUnification` port: TLS when its first byte says so,
/// else the plaintext protocol on the same socket.
pub(crate) async fn serve_unified(
    tls: Arc<ServerTls>,
    stream: TcpStream,
    id: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<CoreMsg>,
    cfg: Arc<Config>,
) {
    let mut first = [0u8; 1];
    match tokio::time::timeout(tls.detection_timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) if looks_like_tls(first[0]) => {
            serve_secure(tls, stream, id, addr, core, cfg).await
        }
        Ok(Ok(1)) => conn::serve(stream, id, addr, core, cfg).await,
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::debug!("connection from {addr} ended: {e}"),
        Err(_) => tracing::warn!(
            "closing connection from {addr}: nothing sent within {} ms",
            tls.detection_timeout.as_millis()
        ),
    }
}

/// A connection on the secure port: the handshake, then the connection loop over TLS.
pub(crate) async fn serve_secure(
    tls: Arc<ServerTls>,
    stream: TcpStream,
    id: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<CoreMsg>,
    cfg: Arc<Config>,
) {
    let _ = stream.set_nodelay(true);
    let accepted = tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(stream)).await;
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!("closing connection from {addr}: TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(
                "closing connection from {addr}: no TLS handshake within {} s",
                tls.handshake_timeout.as_secs()
            );
            return;
        }
    };
    let certs = stream.get_ref().1.peer_certificates();
    let leaf = certs.and_then(|c| c.first()).map(|c| c.as_ref());
    let ids = match session_ids(&tls, leaf) {
        Ok(ids) => ids,
        Err(why) => {
            tracing::error!("closing connection from {addr}: {why}");
            return;
        }
    };
    conn::serve_tls(stream, id, addr, core, cfg, ids).await;
}

/// The identities a session starts with besides `ip`, from its leaf certificate (already
/// verified by the handshake), as CertificateVerifier and X509AuthenticationProvider
/// give them; an error closes the connection.
pub(crate) fn session_ids(tls: &ServerTls, leaf: Option<&[u8]>) -> Result<Vec<Id>, String> {
    if tls.client_auth == ClientAuth::None {
        return Ok(Vec::new());
    }
    // With clientAuth=want a client may come without a certificate; need refused it
    // in the handshake already.
    let Some(der) = leaf else {
        return Ok(Vec::new());
    };
    let super_user = match &tls.x509 {
        X509Auth::Provider { super_user } => super_user,
        X509Auth::Missing { scheme } => {
            return Err(format!("X509 Auth provider not found: {scheme}"));
        }
    };
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("unreadable client certificate: {e}"))?;
    let name = super::x500::rfc2253(cert.subject());
    let mut ids = Vec::with_capacity(2);
    if super_user.as_deref() == Some(name.as_str()) {
        ids.push(Id {
            scheme: "super".into(),
            id: name.clone(),
        });
    }
    ids.push(Id {
        scheme: "x509".into(),
        id: name,
    });
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_of_tls_frames_and_words() {
        // A ClientHello record.
        assert!(looks_like_tls(0x16));
        // A ConnectRequest frame (length 44), a four-letter word, telnet's IAC.
        assert!(!looks_like_tls(0x00));
        assert!(!looks_like_tls(b'r'));
        assert!(!looks_like_tls(b's'));
        assert!(!looks_like_tls(0xff));
    }
}
