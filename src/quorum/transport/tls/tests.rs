//! Quorum TLS on loopback with the test stores (tests/tls_stores, a CA and a server
//! certificate for 127.0.0.1 and localhost): both ends of a handshake, port unification,
//! refused plaintext, refused chains and addresses, garbage, timeouts and reloading.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{QuorumStream, QuorumTls};
use crate::config::{ClientAuth, QuorumTlsConfig, StoreSpec, StoreType};

fn store(file: &Path, store_type: StoreType) -> StoreSpec {
    StoreSpec {
        location: file.to_path_buf(),
        password: "storepass".into(),
        store_type,
    }
}

fn stores() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_stores")
}

fn cfg(ssl_quorum: bool, port_unification: bool) -> QuorumTlsConfig {
    QuorumTlsConfig {
        ssl_quorum,
        port_unification,
        reload_cert_files: false,
        key_store: Some(store(&stores().join("server-store.p12"), StoreType::Pkcs12)),
        trust_store: Some(store(&stores().join("trust.jks"), StoreType::Jks)),
        client_auth: ClientAuth::Need,
        enabled_protocols: vec!["TLSv1.2".into()],
        cipher_suites: None,
        hostname_verification: true,
        detection_timeout_ms: 5000,
    }
}

fn tls(c: &QuorumTlsConfig) -> Arc<QuorumTls> {
    QuorumTls::with_handshake_timeout(c, Duration::from_millis(500))
}

/// A listener on `ip` whose one accepted connection goes through `server.accept`, then
/// echoes four bytes; returns the address and the accept's outcome.
async fn serve_once(
    server: Arc<QuorumTls>,
    ip: &str,
) -> (SocketAddr, tokio::task::JoinHandle<Result<bool, String>>) {
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, peer) = l.accept().await.unwrap();
        let mut s = server.accept(tcp, peer).await?;
        let tls = s.is_tls();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        s.write_all(&buf).await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        Ok(tls)
    });
    (addr, task)
}

async fn echo(s: &mut QuorumStream) -> std::io::Result<[u8; 4]> {
    // Bytes that start a plaintext initial message (protocol version -65536).
    s.write_all(&[0xff, 0xff, 0, 0]).await?;
    s.flush().await?;
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn dial(client: &QuorumTls, addr: SocketAddr) -> Result<QuorumStream, String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    client.connect(tcp, addr).await
}

#[tokio::test]
async fn tls_both_ways_with_mutual_authentication() {
    let both = tls(&cfg(true, false));
    let (addr, server) = serve_once(both.clone(), "127.0.0.1").await;
    let mut s = dial(&both, addr).await.expect("handshake");
    assert!(s.is_tls());
    assert_eq!(echo(&mut s).await.unwrap(), [0xff, 0xff, 0, 0]);
    assert_eq!(server.await.unwrap(), Ok(true));
}

#[tokio::test]
async fn plaintext_is_blocked_on_a_tls_port_and_taken_on_a_unified_one() {
    let plain = QuorumTls::plain();
    let (addr, server) = serve_once(tls(&cfg(true, false)), "127.0.0.1").await;
    let mut s = dial(&plain, addr).await.unwrap();
    assert!(!s.is_tls());
    assert!(echo(&mut s).await.is_err());
    let e = server.await.unwrap().unwrap_err();
    assert!(e.contains("Blocked insecure"), "{e}");

    // portUnification: both kinds on one port, the first bytes read intact.
    let unified = tls(&cfg(false, true));
    let (addr, server) = serve_once(unified.clone(), "127.0.0.1").await;
    let mut s = dial(&plain, addr).await.unwrap();
    assert_eq!(echo(&mut s).await.unwrap(), [0xff, 0xff, 0, 0]);
    assert_eq!(server.await.unwrap(), Ok(false));
    let (addr, server) = serve_once(unified, "127.0.0.1").await;
    let mut s = dial(&tls(&cfg(true, false)), addr).await.unwrap();
    assert!(s.is_tls());
    assert_eq!(echo(&mut s).await.unwrap(), [0xff, 0xff, 0, 0]);
    assert_eq!(server.await.unwrap(), Ok(true));
    // Without sslQuorum a unified server still dials plaintext.
    assert!(!tls(&cfg(false, true)).dials_tls());
}

#[tokio::test]
async fn garbage_and_silence_end_within_the_timeouts() {
    let mut c = cfg(true, false);
    c.detection_timeout_ms = 200;
    let server = tls(&c);
    // A TLS record header, then junk.
    let (addr, task) = serve_once(server.clone(), "127.0.0.1").await;
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .await
        .unwrap();
    let e = task.await.unwrap().unwrap_err();
    assert!(e.contains("handshake failed"), "{e}");
    // A record header and nothing more: the handshake timeout.
    let (addr, task) = serve_once(server.clone(), "127.0.0.1").await;
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("bounded")
        .unwrap()
        .unwrap_err();
    assert!(e.contains("no TLS handshake within"), "{e}");
    // Nothing at all: taken for plaintext after the detection timeout, hence refused.
    let (addr, task) = serve_once(server, "127.0.0.1").await;
    let _silent = TcpStream::connect(addr).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("bounded")
        .unwrap()
        .unwrap_err();
    assert!(e.contains("Blocked insecure"), "{e}");
}

#[tokio::test]
async fn a_peer_outside_the_truststore_is_refused_on_both_ends() {
    // A truststore holding a leaf certificate rather than the CA trusts nobody here.
    let mut distrustful = cfg(true, false);
    distrustful.trust_store = Some(store(&stores().join("alice.pem"), StoreType::Pem));
    let distrustful = tls(&distrustful);
    let good = tls(&cfg(true, false));

    let (addr, server) = serve_once(good.clone(), "127.0.0.1").await;
    let e = dial(&distrustful, addr).await.unwrap_err();
    assert!(e.contains("handshake failed"), "{e}");
    assert!(server.await.unwrap().is_err());

    let (addr, server) = serve_once(distrustful, "127.0.0.1").await;
    let r = dial(&good, addr).await;
    // The dialer may finish its side of a TLS 1.2 handshake before the refusal arrives;
    // the acceptor never takes the connection.
    if let Ok(mut s) = r {
        assert!(echo(&mut s).await.is_err());
    }
    let e = server.await.unwrap().unwrap_err();
    assert!(e.contains("handshake failed"), "{e}");
}

#[tokio::test]
async fn the_peer_address_must_be_in_its_certificate_unless_verification_is_off() {
    // The certificate names 127.0.0.1 and localhost; 127.0.0.2 reverses to no name here
    // (or to one the certificate lacks).
    let strict = tls(&cfg(true, false));
    let (addr, server) = serve_once(strict.clone(), "127.0.0.2").await;
    let e = dial(&strict, addr).await.unwrap_err();
    assert!(e.contains("hostname verification"), "{e}");
    let _ = server.await;

    let mut lax = cfg(true, false);
    lax.hostname_verification = false;
    let lax = tls(&lax);
    let (addr, server) = serve_once(lax.clone(), "127.0.0.2").await;
    let mut s = dial(&lax, addr).await.expect("no verification");
    assert_eq!(echo(&mut s).await.unwrap(), [0xff, 0xff, 0, 0]);
    assert_eq!(server.await.unwrap(), Ok(true));
}

#[tokio::test]
async fn changed_store_files_are_read_again_when_asked() {
    let dir = std::env::temp_dir().join(format!("fk-qtls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trust = dir.join("trust.pem");
    std::fs::copy(stores().join("alice.pem"), &trust).unwrap();
    let mut c = cfg(true, false);
    c.trust_store = Some(store(&trust, StoreType::Pem));
    let mut reloading = c.clone();
    reloading.reload_cert_files = true;
    let fixed = tls(&c);
    let reloading = tls(&reloading);
    let good = tls(&cfg(true, false));
    for client in [&fixed, &reloading] {
        let (addr, _server) = serve_once(good.clone(), "127.0.0.1").await;
        assert!(dial(client, addr).await.is_err());
    }
    // Now the truststore holds the CA (another inode, as a `cp` over it or a rename).
    let new = dir.join("trust.pem.new");
    std::fs::copy(stores().join("ca.pem"), &new).unwrap();
    std::fs::rename(&new, &trust).unwrap();
    let (addr, _server) = serve_once(good.clone(), "127.0.0.1").await;
    assert!(dial(&fixed, addr).await.is_err());
    let (addr, server) = serve_once(good, "127.0.0.1").await;
    let mut s = dial(&reloading, addr).await.expect("reloaded trust");
    assert_eq!(echo(&mut s).await.unwrap(), [0xff, 0xff, 0, 0]);
    assert_eq!(server.await.unwrap(), Ok(true));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_or_missing_stores_stop_start_up() {
    let mut c = cfg(true, false);
    c.key_store = None;
    assert!(QuorumTls::new(Some(&c)).is_err());
    let mut c = cfg(true, false);
    c.trust_store = Some(store(&stores().join("missing.jks"), StoreType::Jks));
    assert!(QuorumTls::new(Some(&c)).is_err());
    let mut c = cfg(true, false);
    c.key_store.as_mut().unwrap().password = "wrong".into();
    assert!(QuorumTls::new(Some(&c)).is_err());
    // Unification alone needs no stores; it takes plaintext only.
    let mut c = cfg(false, true);
    c.key_store = None;
    c.trust_store = None;
    assert!(QuorumTls::new(Some(&c)).is_ok());
    assert!(QuorumTls::new(None).is_ok());
}

#[tokio::test]
async fn a_tls_peer_gone_without_close_notify_is_an_end_of_stream() {
    let both = tls(&cfg(true, false));
    let l = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = both.clone();
    let task = tokio::spawn(async move {
        let (tcp, peer) = l.accept().await.unwrap();
        let mut s = server.accept(tcp, peer).await.unwrap();
        // Cut the TCP connection under the TLS session, as a killed server does.
        if let QuorumStream::Tls(t) = &mut s {
            t.get_mut().0.shutdown().await.unwrap();
        }
        s
    });
    let mut s = dial(&both, addr).await.unwrap();
    let _held = task.await.unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut buf).await.unwrap(), 0);
}
