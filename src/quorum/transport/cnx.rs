//! QuorumCnxManager: the election port's connections.
//!
//! One connection per pair of servers, and the one that survives is the one dialed by the
//! larger sid (QuorumCnxManager.startConnection / handleConnection in 3.8):
//! - a dialer always sends its initial message first; if the peer's sid is larger, it
//!   then closes the connection ("Have smaller server identifier, so dropping the
//!   connection") and waits for the peer to dial back;
//! - an acceptor that learns a smaller sid closes the new connection, finishes any old one
//!   to that sid and dials it back; a larger sid gets its connection kept, replacing any
//!   older one; our own sid is refused.
//!
//! A sid outside the configured view (a server joining by reconfig, or one a reconfig
//! removed) is let in as Java lets it in, when its initial message says where it listens,
//! up to [`limits::MAX_STRANGERS`] of them: FastLeaderElection answers it as a
//! non-voter. A reconfig replaces the view ([`CnxManager::set_peers`]).
//!
//! Dialing is asynchronous (Java's connectOne blocks its caller for up to cnxTO), at most
//! one dial per peer at a time, and spaced by a backoff that doubles on failure and resets
//! once a connection delivers a frame.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limits;
use super::link;
use super::sasl::QuorumAuth;
use super::slot::{lock, SendSlot};
use super::tls::{QuorumStream, QuorumTls};
use super::view::{host_port, Member, View};
use super::TransportError;
use crate::proto::quorum::handshake::InitialMessage;
use crate::quorum::Sid;

/// A frame received from a peer, for the election driver (QuorumCnxManager.Message).
#[derive(Debug)]
pub(crate) struct Received {
    /// The connection's sid (not what the bytes claim).
    pub(crate) from: Sid,
    /// The notification payload, without its length prefix.
    pub(crate) frame: Bytes,
}

/// One other server: its send queue and its connection.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) sid: Sid,
    /// Not a member of the view: a server that dialed us (see [`limits::MAX_STRANGERS`]).
    stranger: bool,
    member: Member,
    pub(crate) slot: SendSlot,
    pub(crate) state: Mutex<PeerState>,
    /// Cuts a dial's backoff short: the peer just proved it is up.
    dial_now: Notify,
}

impl Peer {
    fn new(sid: Sid, member: Member) -> Peer {
        Peer {
            sid,
            stranger: false,
            member,
            slot: SendSlot::default(),
            state: Mutex::new(PeerState {
                known: false,
                link: None,
                dialing: false,
                next_dial: None,
                backoff: limits::MIN_BACKOFF,
                last_sent: None,
            }),
            dial_now: Notify::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct PeerState {
    /// Java's `queueSendMap` has an entry: we have sent to it or connected with it. Only
    /// such peers count for haveDelivered.
    known: bool,
    link: Option<LinkEntry>,
    dialing: bool,
    next_dial: Option<Instant>,
    backoff: Duration,
    /// SendWorker's lastMessageSent: repeated on a new connection when nothing newer waits,
    /// in case the old connection died before the peer read it.
    pub(crate) last_sent: Option<Bytes>,
}

#[derive(Debug)]
struct LinkEntry {
    id: u64,
    cancel: CancellationToken,
}

/// The election port's connection manager, shared by the listener, the links and the
/// election driver.
#[derive(Debug)]
pub(crate) struct CnxManager {
    me: Sid,
    my_address: String,
    handshake_timeout: Duration,
    /// `zookeeper.cnxTimeout`; `None`: no limit.
    connect_timeout: Option<Duration>,
    /// The other members; a reconfig replaces them ([`CnxManager::set_peers`]).
    peers: Mutex<BTreeMap<Sid, Arc<Peer>>>,
    recv_tx: mpsc::Sender<Received>,
    cancel: CancellationToken,
    handshakes: Arc<Semaphore>,
    next_link_id: AtomicU64,
    /// TLS on the dials and the accepted connections (`sslQuorum`, `portUnification`).
    tls: Arc<QuorumTls>,
    /// Quorum SASL after the initial message (`quorum.auth.*`).
    auth: Arc<QuorumAuth>,
}

const _: () = assert!(
    limits::CONNECTIONS_PER_SID == 1,
    "install keeps one link per peer"
);

/// The first election address of an initial message (`host:port[|host:port...]`, an IPv6
/// host in brackets).
fn stranger_member(addresses: &str) -> Option<Member> {
    let first = addresses.split('|').next()?.trim();
    let (host, port) = first.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    (!host.is_empty()).then(|| Member {
        host: host.to_string(),
        port,
    })
}

enum Dialed {
    /// We have the larger sid: this connection is the pair's.
    Kept(QuorumStream),
    /// The peer has the larger sid: it will dial back.
    LostChallenge,
}

impl CnxManager {
    /// Bind the election port and start accepting. Everything stops when `cancel` fires.
    pub(crate) async fn start(
        view: &View,
        tls: Arc<QuorumTls>,
        auth: Arc<QuorumAuth>,
        recv_tx: mpsc::Sender<Received>,
        cancel: CancellationToken,
    ) -> Result<(Arc<CnxManager>, SocketAddr), TransportError> {
        let (host, port) = &view.listen;
        let listener = TcpListener::bind((host.as_str(), *port))
            .await
            .map_err(|source| TransportError::Bind {
                addr: host_port(host, *port),
                source,
            })?;
        let local = listener
            .local_addr()
            .map_err(|source| TransportError::Bind {
                addr: host_port(host, *port),
                source,
            })?;
        let peers = view
            .peers
            .iter()
            .map(|(&sid, member)| (sid, Arc::new(Peer::new(sid, member.clone()))))
            .collect();
        let cnx = Arc::new(CnxManager {
            me: view.me,
            my_address: view.my_address.clone(),
            handshake_timeout: view.handshake_timeout,
            connect_timeout: view.connect_timeout,
            peers: Mutex::new(peers),
            recv_tx,
            cancel,
            handshakes: Arc::new(Semaphore::new(limits::MAX_PENDING_HANDSHAKES)),
            next_link_id: AtomicU64::new(1),
            tls,
            auth,
        });
        tracing::info!("{} is accepting election connections on {local}", cnx.me.0);
        tokio::spawn(cnx.clone().accept_loop(listener));
        Ok((cnx, local))
    }

    pub(crate) fn me(&self) -> Sid {
        self.me
    }

    fn peer(&self, sid: Sid) -> Option<Arc<Peer>> {
        lock(&self.peers).get(&sid).cloned()
    }

    fn peer_list(&self) -> Vec<Arc<Peer>> {
        lock(&self.peers).values().cloned().collect()
    }

    /// A server outside the view dialed us: keep it as a peer (not a member) if it said
    /// where it listens and there is room.
    fn stranger(&self, sid: Sid, msg: &InitialMessage) -> Option<Arc<Peer>> {
        let InitialMessage::Versioned { addresses, .. } = msg else {
            return None;
        };
        let member = stranger_member(addresses)?;
        let mut peers = lock(&self.peers);
        if peers.values().filter(|p| p.stranger).count() >= limits::MAX_STRANGERS {
            tracing::warn!("refusing sid {}: too many servers outside the view", sid.0);
            return None;
        }
        tracing::info!(
            "sid {} is not in the view: answering it as a non-voter at {}:{}",
            sid.0,
            member.host,
            member.port
        );
        let mut peer = Peer::new(sid, member);
        peer.stranger = true;
        let peer = Arc::new(peer);
        peers.insert(sid, peer.clone());
        Some(peer)
    }

    /// A reconfig changed the membership (QuorumPeer.restartLeaderElection): members that
    /// left lose their connection, members that joined are dialed when first sent to; a
    /// member whose election address changed is a new one.
    pub(crate) fn set_peers(&self, members: &BTreeMap<Sid, Member>) {
        let mut peers = lock(&self.peers);
        let gone: Vec<Sid> = peers
            .iter()
            .filter(|(sid, p)| members.get(sid) != Some(&p.member))
            .map(|(&sid, _)| sid)
            .collect();
        for sid in gone {
            if let Some(p) = peers.remove(&sid) {
                self.finish(&p);
            }
        }
        for (&sid, member) in members {
            peers
                .entry(sid)
                .or_insert_with(|| Arc::new(Peer::new(sid, member.clone())));
        }
    }

    pub(crate) fn recv_sender(&self) -> &mpsc::Sender<Received> {
        &self.recv_tx
    }

    /// QuorumCnxManager.toSend for another server: replace what waits in its queue, and
    /// dial it if there is no connection.
    pub(crate) fn to_send(self: &Arc<Self>, to: Sid, frame: Bytes) {
        let Some(peer) = self.peer(to) else {
            tracing::warn!("not sending to sid {}: not in the view", to.0);
            return;
        };
        lock(&peer.state).known = true;
        peer.slot.put(frame);
        self.connect_one(to);
    }

    /// QuorumCnxManager.haveDelivered: true as soon as one known peer's queue is empty.
    pub(crate) fn have_delivered(&self) -> bool {
        self.peer_list()
            .iter()
            .any(|p| lock(&p.state).known && p.slot.is_empty())
    }

    /// connectAll: dial every other member we have no connection with (Java walks only
    /// queueSendMap; here every voter and observer, which is where that map ends up).
    pub(crate) fn connect_all(self: &Arc<Self>) {
        for p in self.peer_list() {
            self.connect_one(p.sid);
        }
    }

    /// Whether a connection to `sid` is up (connectedToPeer).
    pub(crate) fn connected(&self, sid: Sid) -> bool {
        self.peer(sid)
            .is_some_and(|p| lock(&p.state).link.is_some())
    }

    /// connectOne: start a dial unless connected, already dialing, or shut down.
    pub(crate) fn connect_one(self: &Arc<Self>, sid: Sid) {
        let Some(peer) = self.peer(sid) else {
            tracing::warn!("Invalid server id: {}", sid.0);
            return;
        };
        let not_before = {
            let mut st = lock(&peer.state);
            if st.link.is_some() || st.dialing || self.cancel.is_cancelled() {
                return;
            }
            st.dialing = true;
            st.next_dial
        };
        let cnx = self.clone();
        tokio::spawn(async move {
            if let Some(at) = not_before {
                tokio::select! {
                    _ = cnx.cancel.cancelled() => return,
                    _ = tokio::time::sleep_until(at) => {}
                    _ = peer.dial_now.notified() => {}
                }
                // The peer may have dialed us while we waited.
                let mut st = lock(&peer.state);
                if st.link.is_some() {
                    st.dialing = false;
                    return;
                }
            }
            let result = tokio::select! {
                _ = cnx.cancel.cancelled() => return,
                r = cnx.dial(&peer) => r,
            };
            let kept = {
                let mut st = lock(&peer.state);
                st.dialing = false;
                match result {
                    Ok(Dialed::Kept(stream)) => Some(stream),
                    Ok(Dialed::LostChallenge) => {
                        tracing::info!(
                            "Have smaller server identifier, so dropping the connection: (myId:{} --> sid:{})",
                            cnx.me.0,
                            peer.sid.0
                        );
                        st.back_off();
                        None
                    }
                    Err(e) => {
                        tracing::warn!("{e}; next try in {:?}", st.backoff);
                        st.back_off();
                        None
                    }
                }
            };
            if let Some(stream) = kept {
                cnx.install(&peer, stream, BytesMut::new());
            }
        });
    }

    /// Dial and send our initial message (startConnection).
    async fn dial(&self, peer: &Peer) -> Result<Dialed, TransportError> {
        let addr_str = host_port(&peer.member.host, peer.member.port);
        let err = |reason: String| TransportError::Connect {
            sid: peer.sid.0,
            addr: addr_str.clone(),
            reason,
        };
        let addr = tokio::net::lookup_host((peer.member.host.as_str(), peer.member.port))
            .await
            .map_err(|e| err(e.to_string()))?
            .next()
            .ok_or_else(|| err("no address".into()))?;
        let connecting = TcpStream::connect(addr);
        let connected = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| err(format!("timed out after {limit:?}")))?,
            None => connecting.await,
        };
        let tcp = connected.map_err(|e| err(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let mut stream = self.tls.connect(tcp, addr).await.map_err(err)?;
        link::send_initial_message(&mut stream, self.me, &self.my_address)
            .await
            .map_err(|e| err(e.to_string()))?;
        // startConnection authenticates before the larger-sid rule: the acceptor decides
        // whether to dial back only after the exchange, so even a connection we are about
        // to drop must authenticate. Java's election sockets time reads out after
        // syncLimit * tickTime (the handshake timeout), which bounds the exchange here.
        let limit = self.handshake_timeout;
        tokio::time::timeout(limit, self.auth.authenticate_learner(&mut stream, addr))
            .await
            .map_err(|_| err(format!("quorum SASL: none within {limit:?}")))?
            .map_err(|e| err(format!("quorum SASL: {e}")))?;
        if peer.sid.as_i64() > self.me.as_i64() {
            Ok(Dialed::LostChallenge)
        } else {
            Ok(Dialed::Kept(stream))
        }
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                _ = self.cancel.cancelled() => break,
                a = listener.accept() => a,
            };
            let (stream, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::error!("Exception while listening: {e}");
                    tokio::time::sleep(limits::MIN_BACKOFF).await;
                    continue;
                }
            };
            let Ok(permit) = self.handshakes.clone().try_acquire_owned() else {
                tracing::warn!(
                    "closing election connection from {remote}: {} initial messages already pending",
                    limits::MAX_PENDING_HANDSHAKES
                );
                continue;
            };
            tracing::info!("Received connection request from {remote}");
            let cnx = self.clone();
            tokio::spawn(async move {
                if let Err(e) = cnx.handle_connection(stream, remote, permit).await {
                    tracing::warn!("{e}");
                }
            });
        }
        tracing::info!("Leaving listener");
    }

    /// handleConnection: read the initial message and apply the larger-sid rule.
    async fn handle_connection(
        self: &Arc<Self>,
        tcp: TcpStream,
        remote: SocketAddr,
        permit: OwnedSemaphorePermit,
    ) -> Result<(), TransportError> {
        let _ = tcp.set_nodelay(true);
        // The TLS handshake (or the plaintext check) under the same permit: a flood of
        // silent sockets cannot pile up here either.
        let secured = tokio::select! {
            _ = self.cancel.cancelled() => return Ok(()),
            r = self.tls.accept(tcp, remote) => r,
        };
        let mut stream = secured.map_err(|reason| TransportError::Refused {
            peer: remote,
            reason,
        })?;
        let read = tokio::select! {
            _ = self.cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout(self.handshake_timeout, link::read_initial_message(&mut stream)) => r,
        };
        drop(permit);
        let (msg, rest) = read
            .map_err(|_| TransportError::Handshake {
                peer: remote,
                reason: format!("none within {:?}", self.handshake_timeout),
            })?
            .map_err(|reason| TransportError::Handshake {
                peer: remote,
                reason,
            })?;
        let claimed = msg.sid();
        let refused = |reason: String| TransportError::Refused {
            peer: remote,
            reason,
        };
        if claimed == self.me.as_i64() {
            // ZOOKEEPER-2164: a configuration error or a bug. Java leaves the socket open.
            return Err(refused(format!(
                "it claims our own sid {claimed}; check the server.N lines"
            )));
        }
        let peer = u64::try_from(claimed)
            .ok()
            .and_then(|sid| {
                self.peer(Sid(sid))
                    .or_else(|| self.stranger(Sid(sid), &msg))
            })
            .ok_or_else(|| refused(format!("sid {claimed} is not in the view")))?;
        if let InitialMessage::Versioned { .. } = &msg {
            tracing::debug!("initial message from {remote}: {msg:?}");
        }
        // handleConnection authenticates before the larger-sid rule too.
        let authed = tokio::select! {
            _ = self.cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout(
                self.handshake_timeout,
                self.auth.authenticate_server(&mut stream, rest, remote),
            ) => r,
        };
        let rest = authed
            .map_err(|_| {
                refused(format!(
                    "quorum SASL: none within {:?}",
                    self.handshake_timeout
                ))
            })?
            .map_err(|e| refused(format!("quorum SASL: {e}")))?;
        if claimed < self.me.as_i64() {
            // We win the challenge: drop this connection (and any old one, which this
            // peer evidently no longer believes in) and dial it ourselves.
            // It must hear from us now, whatever backoff an earlier failed dial left.
            drop(stream);
            self.finish(&peer);
            peer.reset_backoff();
            peer.dial_now.notify_one();
            self.connect_one(peer.sid);
        } else {
            self.install(&peer, stream, rest);
        }
        Ok(())
    }

    /// SendWorker.finish: close the peer's connection, if any.
    pub(crate) fn finish(&self, peer: &Peer) {
        if let Some(old) = lock(&peer.state).link.take() {
            old.cancel.cancel();
        }
    }

    /// Make `stream` the peer's connection, replacing (closing) an older one: this is what
    /// holds each peer to [`limits::CONNECTIONS_PER_SID`].
    fn install(self: &Arc<Self>, peer: &Arc<Peer>, stream: QuorumStream, rest: BytesMut) {
        let id = self.next_link_id.fetch_add(1, Ordering::Relaxed);
        let cancel = self.cancel.child_token();
        {
            let mut st = lock(&peer.state);
            st.known = true;
            let entry = LinkEntry {
                id,
                cancel: cancel.clone(),
            };
            if let Some(old) = st.link.replace(entry) {
                old.cancel.cancel();
            }
        }
        tracing::debug!("election connection {id} with sid {} up", peer.sid.0);
        tokio::spawn(link::run(
            self.clone(),
            peer.clone(),
            id,
            cancel,
            stream,
            rest,
        ));
    }

    /// A connection ended by itself (error or EOF): forget it and, unless shutting down,
    /// dial again (after the backoff).
    pub(crate) fn link_ended(self: &Arc<Self>, peer: &Peer, id: u64) {
        let was_current = {
            let mut st = lock(&peer.state);
            match &st.link {
                Some(l) if l.id == id => {
                    st.link = None;
                    true
                }
                _ => false,
            }
        };
        if was_current && !self.cancel.is_cancelled() {
            self.connect_one(peer.sid);
        }
    }
}

impl Peer {
    /// A connection delivered a frame: the peer is reachable, dial at once next time.
    pub(crate) fn reset_backoff(&self) {
        let mut st = lock(&self.state);
        st.backoff = limits::MIN_BACKOFF;
        st.next_dial = None;
    }
}

impl PeerState {
    fn back_off(&mut self) {
        self.next_dial = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(limits::MAX_BACKOFF);
    }
}
