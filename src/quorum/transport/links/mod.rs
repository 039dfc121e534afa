//! Quorum-port links as tasks: each connection between a leader and one learner is a
//! reader task and a writer task, talking to the role loop over channels, so that the loop
//! (which also runs the client-serving core) never blocks on a socket.
//!
//! - The role loop receives every link's [`LinkEvent`]s on one bounded channel: `Opened`
//!   (with the [`LinkHandle`] to write with), then `Packet`s (and, on the learner side,
//!   one `Snapshot` for a SNAP and the raw snapshot after it), then exactly one `Closed`.
//!   The readers wait when the channel is full: a slow loop slows its peers' TCP windows
//!   rather than growing memory.
//! - It writes with [`LinkHandle::send`], which never waits: each link has a bounded
//!   queue and a full one is an error, on which the caller should close the link.
//!
//! The leader side is [`LearnerListener`] (LearnerCnxAcceptor and one LearnerHandler
//! socket per learner); the learner side is [`connect_leader`] (Learner.connectToLeader).
//! Neither knows Zab: the machines in [`crate::quorum::leader`] and [`crate::quorum::zab`]
//! decide what to send.

// The leader and follower role loops that use these are being written beside them.

mod dial;
mod io;
mod listener;

#[cfg(test)]
mod links_tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::proto::quorum::packet::QuorumPacket;

pub(crate) use dial::connect_leader;
pub(crate) use listener::LearnerListener;

/// Packets (and raw bytes) a link's writer may have queued before [`LinkHandle::send`]
/// refuses more. ZooKeeper's LearnerHandler.queuedPackets is unbounded; ours is bounded
/// so that a learner that stops reading cannot grow the leader's memory without end.
/// A DIFF queues two packets per txn: the role loop streams long ones in slices.
pub(crate) const LINK_QUEUE_CAPACITY: usize = 4096;
/// Live learner links beyond `2 × servers` the listener accepts. A learner that lost its
/// link reconnects before the leader notices the old one is dead, so one learner may
/// briefly hold two; the extra leaves room for a restart or a stray client.
pub(crate) const EXTRA_LEARNER_LINKS: usize = 4;
/// Bytes a raw write (the snapshot after SNAP) is cut into; each piece must go out within
/// the write timeout, which makes that timeout a stall timeout for large snapshots.
const RAW_CHUNK: usize = 64 * 1024;

/// One link, unique in the process (links are never renumbered, so an event of a link
/// that has since closed can never be taken for a newer one's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LinkId(pub(crate) u64);

impl LinkId {
    fn next() -> LinkId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        LinkId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Display for LinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "link {}", self.0)
    }
}

/// What the role loop queues on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkOut {
    /// One packet.
    Packet(QuorumPacket),
    /// Packets written in order that take one place in the queue: a sync's PROPOSAL and
    /// COMMIT pairs (LearnerHandler queues a whole DIFF at once; counted per packet, a
    /// DIFF longer than the queue would close the link it is meant to heal).
    Packets(Vec<QuorumPacket>),
    /// Bytes written as they are: the snapshot stream after SNAP
    /// ([`crate::storage::zk::snapshot_stream`]).
    Raw(Bytes),
    /// Flush what is queued before this, then close the link.
    Close,
}

/// What the links report to the role loop.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// A link is up; `handle` writes on it. Comes before any other event of the link.
    Opened {
        /// The link.
        link: LinkId,
        /// The peer's socket address.
        addr: SocketAddr,
        /// Where to queue what the link should write.
        handle: LinkHandle,
    },
    /// A packet arrived.
    Packet {
        /// The link.
        link: LinkId,
        /// The packet.
        packet: QuorumPacket,
    },
    /// A SNAP arrived, with the raw snapshot that followed it (learner side only).
    Snapshot {
        /// The link.
        link: LinkId,
        /// The SNAP packet.
        packet: QuorumPacket,
        /// The snapshot and its signature, for
        /// [`crate::storage::zk::read_snapshot_stream`].
        bytes: Bytes,
    },
    /// The link is gone (every link ends with exactly one of these).
    Closed {
        /// The link.
        link: LinkId,
        /// Why, for the log.
        reason: String,
    },
}

/// Why a link refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    /// The link's queue is full: the peer does not keep up. Close the link.
    #[error("{link}: the send queue is full ({capacity} queued)")]
    Full {
        /// The link.
        link: LinkId,
        /// Its queue's capacity.
        capacity: usize,
    },
    /// The link is closed or closing.
    #[error("{link} is closed")]
    Closed {
        /// The link.
        link: LinkId,
    },
}

/// Writes on one link. Clones share the link; when every clone is dropped, the link
/// flushes what is queued and closes, as on [`LinkOut::Close`].
#[derive(Debug, Clone)]
pub(crate) struct LinkHandle {
    id: LinkId,
    addr: SocketAddr,
    tx: mpsc::Sender<LinkOut>,
    cancel: CancellationToken,
}

impl LinkHandle {
    /// The link.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn id(&self) -> LinkId {
        self.id
    }

    /// The peer's socket address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues `out` without waiting; a full queue is [`LinkError::Full`] and the caller
    /// should close the link (a learner that far behind is better resynced).
    pub(crate) fn send(&self, out: LinkOut) -> Result<(), LinkError> {
        if self.cancel.is_cancelled() {
            return Err(LinkError::Closed { link: self.id });
        }
        self.tx.try_send(out).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => LinkError::Full {
                link: self.id,
                capacity: self.tx.max_capacity(),
            },
            mpsc::error::TrySendError::Closed(_) => LinkError::Closed { link: self.id },
        })
    }

    /// Items waiting in the link's queue (a batch of packets counts once).
    pub(crate) fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Closes the link now, dropping what is still queued (LearnerHandler.shutdown);
    /// its `Closed` event follows. [`LinkOut::Close`] closes after a flush instead.
    pub(crate) fn close(&self) {
        self.cancel.cancel();
    }

    /// Whether the link has been closed (by either side or [`LinkHandle::close`]).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_closed(&self) -> bool {
        self.cancel.is_cancelled() || self.tx.is_closed()
    }
}

/// The bounds a link runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkLimits {
    /// The longest buffer or string in a packet (BinaryInputArchive's jute.maxbuffer plus
    /// extrasize).
    pub(crate) max_buffer: usize,
    /// [`LINK_QUEUE_CAPACITY`] unless a test says otherwise.
    pub(crate) queue_capacity: usize,
    /// How long one write (a flush of queued packets, a piece of raw bytes) may take.
    pub(crate) write_timeout: Duration,
    /// How long the TCP connect to the leader may take.
    pub(crate) connect_timeout: Duration,
    /// The largest snapshot accepted after SNAP.
    pub(crate) max_snapshot_bytes: usize,
    /// How long the snapshot after SNAP may go without a byte arriving.
    pub(crate) snapshot_stall: Duration,
}

impl LinkLimits {
    /// The limits `cfg` implies: jute.maxbuffer × 2 (as [`super::learner`] reads packets)
    /// and initLimit ticks for a stalled snapshot (Java's socket timeout during sync).
    pub(crate) fn from_config(cfg: &Config) -> LinkLimits {
        let init_ms = cfg
            .tick_time_ms
            .saturating_mul(u64::from(cfg.init_limit))
            .max(1000);
        LinkLimits {
            max_buffer: cfg.jute_max_buffer.saturating_mul(2),
            snapshot_stall: Duration::from_millis(init_ms),
            ..LinkLimits::default()
        }
    }
}

impl Default for LinkLimits {
    fn default() -> Self {
        LinkLimits {
            max_buffer: crate::proto::quorum::packet::DEFAULT_MAX_BUFFER,
            queue_capacity: LINK_QUEUE_CAPACITY,
            write_timeout: super::limits::WRITE_TIMEOUT,
            connect_timeout: super::limits::CONNECT_TIMEOUT,
            max_snapshot_bytes: 1 << 30,
            snapshot_stall: Duration::from_millis(10_000),
        }
    }
}

/// Which end of the quorum port a link is: only a learner receives SNAP and the raw
/// snapshot after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Leader,
    Learner,
}
