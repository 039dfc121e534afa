//! Simulated links with TCP's guarantees and nothing more: per connection, bytes arrive
//! in order after a random delay; a connection can be closed (by either end, or by a
//! partition), and then nothing more of it is delivered. The smallest network that still
//! finds real bugs (raft-rs harness/src/network.rs: cut, isolate, recover).

use std::collections::{BTreeSet, VecDeque};

use super::disk::Txn;
use super::Rng;
use crate::quorum::Sid;

/// What travels on a quorum connection.
#[derive(Debug, Clone)]
pub(crate) enum Wire {
    /// One encoded `QuorumPacket` (jute bytes, as the quorum port carries them).
    Packet(Vec<u8>),
    /// The snapshot that follows SNAP on the stream: the leader's history up to the SNAP
    /// zxid (standing in for the serialized DataTree).
    Snapshot(Vec<Txn>),
}

/// A message in flight on connection `conn` from `from` to `to`.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) at_ms: u64,
    pub(crate) conn: u64,
    pub(crate) from: Sid,
    pub(crate) to: Sid,
    pub(crate) wire: Wire,
}

/// All connections, and which server pairs are partitioned.
#[derive(Debug, Default)]
pub(crate) struct Net {
    /// In flight, FIFO per connection and direction: `at_ms` never decreases along one
    /// (conn, from) queue, so taking due messages in queue order keeps TCP order.
    queue: VecDeque<InFlight>,
    /// Pairs (low, high) that cannot reach each other.
    cut: BTreeSet<(Sid, Sid)>,
    /// Closed connections: whatever is still written to them is dropped.
    dead: BTreeSet<u64>,
    next_conn: u64,
}

fn pair(a: Sid, b: Sid) -> (Sid, Sid) {
    (a.min(b), a.max(b))
}

impl Net {
    /// A new connection id.
    pub(crate) fn connect(&mut self) -> u64 {
        self.next_conn += 1;
        self.next_conn
    }

    /// Whether `a` and `b` can reach each other.
    pub(crate) fn reachable(&self, a: Sid, b: Sid) -> bool {
        !self.cut.contains(&pair(a, b))
    }

    /// Partitions `a` from `b`.
    pub(crate) fn cut(&mut self, a: Sid, b: Sid) {
        self.cut.insert(pair(a, b));
    }

    /// Heals every partition.
    pub(crate) fn heal(&mut self) {
        self.cut.clear();
    }

    /// Queues `wire` on connection `conn`, 1-15 ms from now but never before the last
    /// message queued on the same connection and direction.
    pub(crate) fn send(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        conn: u64,
        from: Sid,
        to: Sid,
        wire: Wire,
    ) {
        if self.dead.contains(&conn) {
            return;
        }
        let floor = (self.queue.iter().rev())
            .find(|m| m.conn == conn && m.from == from)
            .map_or(0, |m| m.at_ms);
        let at_ms = (now_ms
            + if rng.below(20) == 0 {
                rng.range(50, 400)
            } else {
                rng.range(1, 15)
            })
        .max(floor);
        self.queue.push_back(InFlight {
            at_ms,
            conn,
            from,
            to,
            wire,
        });
    }

    /// Drops everything in flight on `conn` (it closed).
    pub(crate) fn close(&mut self, conn: u64) {
        self.dead.insert(conn);
        self.queue.retain(|m| m.conn != conn);
    }

    /// The next message due by `now_ms`, in queue order.
    pub(crate) fn pop_due(&mut self, now_ms: u64) -> Option<InFlight> {
        let i = self.queue.iter().position(|m| m.at_ms <= now_ms)?;
        self.queue.remove(i)
    }
}
