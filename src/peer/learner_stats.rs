//! One learner link's counters, as LearnerHandler keeps them for the AdminServer's
//! `observers` command (LearnerHandler.getLearnerHandlerInfo).
//!
//! Java counts what its sender thread writes from the learner's queue (so not LEADERINFO
//! or SNAP and the snapshot, which the handler writes itself) and what its main loop reads
//! (so not the handshake's FOLLOWERINFO/OBSERVERINFO, ACKEPOCH and NEWLEADER's ACK). Its
//! `queued_packets_size` adds what `queuePacket` queues and subtracts what is sent, but
//! NEWLEADER and UPTODATE are queued around `queuePacket`: once they are out the figure
//! stays below zero by their sizes, and an operator sees that negative number. Packets
//! here are counted when queued; the size is Java's with an empty queue.

use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::quorum::leader::LearnerPacket;
use crate::quorum::transport::links::LinkOut;
use crate::server::facts::LearnerLinkFacts;

/// LearnerHandler.packetSize's fixed part: int + long + byte[] ref + List ref.
const PACKET_BASE_SIZE: i64 = 28;

#[derive(Debug, Clone)]
pub(super) struct LinkStats {
    /// Wall-clock ms when the link was accepted (LearnerHandler.established).
    established_ms: i64,
    packets_sent: u64,
    packets_received: u64,
    requests: u64,
    /// The zxid of the last packet queued with one above 0 (-1: none).
    last_zxid: i64,
    /// NEWLEADER and UPTODATE, which Java's running size never adds.
    unqueued_size: i64,
    /// Whether the ACK of NEWLEADER (the handshake's last read) has come.
    newleader_acked: bool,
}

impl LinkStats {
    pub(super) fn new(established_ms: i64) -> LinkStats {
        LinkStats {
            established_ms,
            packets_sent: 0,
            packets_received: 0,
            requests: 0,
            last_zxid: -1,
            unqueued_size: 0,
            newleader_acked: false,
        }
    }

    /// Leader.resetObserverConnectionStats (LearnerHandler.resetObserverConnectionStats).
    pub(super) fn reset(&mut self) {
        (self.packets_received, self.packets_sent, self.requests) = (0, 0, 0);
        self.last_zxid = -1;
    }

    /// What is about to be queued on the link.
    pub(super) fn on_send(&mut self, out: &LinkOut) {
        match out {
            LinkOut::Packet(p) => self.sent(p),
            LinkOut::Packets(ps) => ps.iter().for_each(|p| self.sent(p)),
            LinkOut::Raw(_) | LinkOut::Close => {}
        }
    }

    fn sent(&mut self, p: &QuorumPacket) {
        match p.r#type {
            pt::LEADERINFO | pt::SNAP => return,
            pt::NEWLEADER | pt::UPTODATE => {
                let data = p.data.as_ref().map_or(0, |d| d.len() as i64);
                self.unqueued_size += PACKET_BASE_SIZE + data;
            }
            _ => {}
        }
        self.packets_sent += 1;
        if p.zxid > 0 {
            self.last_zxid = p.zxid;
        }
    }

    /// A packet read from the learner (after its first, FOLLOWERINFO or OBSERVERINFO).
    pub(super) fn on_received(&mut self, p: &LearnerPacket) {
        match p {
            LearnerPacket::Info { .. } | LearnerPacket::AckEpoch { .. } => {}
            LearnerPacket::Ack { .. } if !self.newleader_acked => self.newleader_acked = true,
            LearnerPacket::Request { .. } => {
                self.packets_received += 1;
                self.requests += 1;
            }
            _ => self.packets_received += 1,
        }
    }

    /// LearnerHandler.getLearnerHandlerInfo.
    pub(super) fn facts(&self, addr: String, sid: u64, queued: usize) -> LearnerLinkFacts {
        LearnerLinkFacts {
            remote_socket_address: addr,
            sid,
            established_ms: self.established_ms,
            queued_packets: queued,
            queued_packets_size: -self.unqueued_size,
            packets_received: self.packets_received,
            packets_sent: self.packets_sent,
            requests: self.requests,
            last_zxid: self.last_zxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::Zxid;

    #[test]
    fn counts_as_the_learner_handler_does() {
        let mut s = LinkStats::new(1_700_000_000_000);
        s.on_send(&LinkOut::Packet(QuorumPacket::bare(
            pt::LEADERINFO,
            1 << 32,
        )));
        s.on_send(&LinkOut::Packet(QuorumPacket::bare(pt::DIFF, 5)));
        s.on_send(&LinkOut::Packet(QuorumPacket::with_data(
            pt::NEWLEADER,
            2 << 32,
            vec![0; 150],
        )));
        s.on_send(&LinkOut::Packet(QuorumPacket::bare(pt::UPTODATE, -1)));
        s.on_received(&LearnerPacket::Ack {
            zxid: Zxid(2 << 32),
        });
        s.on_received(&LearnerPacket::Ack {
            zxid: Zxid(2 << 32),
        });
        s.on_send(&LinkOut::Packets(vec![
            QuorumPacket::bare(pt::INFORM, (2 << 32) + 1),
            QuorumPacket::bare(pt::INFORM, (2 << 32) + 2),
        ]));
        s.on_send(&LinkOut::Raw(bytes::Bytes::from_static(b"x")));
        let f = s.facts("/127.0.0.1:4242".into(), 4, 0);
        // DIFF, NEWLEADER, UPTODATE, two INFORMs; not LEADERINFO or raw bytes.
        assert_eq!(f.packets_sent, 5);
        // The second ACK only: the first is NEWLEADER's, read by the handshake.
        assert_eq!(f.packets_received, 1);
        assert_eq!(f.last_zxid, (2 << 32) + 2);
        assert_eq!(f.queued_packets_size, -(28 + 150) - 28);
        assert_eq!(f.requests, 0);
    }
}
