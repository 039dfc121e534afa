//! Votes and the order among proposals (`quorum/Vote.java`,
//! `FastLeaderElection.totalOrderPredicate`).

use crate::quorum::{ServerState, Sid, Zxid};

/// What a server proposes as leader: the three values totalOrderPredicate compares
/// (`proposedLeader`, `proposedZxid`, `proposedEpoch` in FastLeaderElection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The proposed leader.
    pub leader: Sid,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The proposed leader's current epoch (`peerEpoch`).
    pub peer_epoch: i64,
}

/// The signature of [`total_order_predicate`], so tests can put a broken one in its place.
pub type OrderPredicate = fn(new: &Proposal, cur: &Proposal, new_weight: u64) -> bool;

/// `FastLeaderElection.totalOrderPredicate`: whether `new` beats `cur`.
///
/// A leader of weight 0 never wins (only QuorumHierarchical has such members). Otherwise
/// the higher peer epoch wins, then the higher zxid, then the higher sid. Zxids and sids are
/// compared as Java's signed longs: `Long.MIN_VALUE` (an observer's initial vote) is lowest.
pub fn total_order_predicate(new: &Proposal, cur: &Proposal, new_weight: u64) -> bool {
    if new_weight == 0 {
        return false;
    }
    (new.peer_epoch, new.zxid.0, new.leader.as_i64())
        > (cur.peer_epoch, cur.zxid.0, cur.leader.as_i64())
}

/// `quorum/Vote.java`: a proposal as recorded in `recvset`/`outofelection`, or a server's
/// current vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    /// The notification format version it came with. Java keeps it only for votes from
    /// FOLLOWING/LEADING notifications in `outofelection`; everywhere else it is 0. It
    /// changes what [`Vote::matches`] compares (ZOOKEEPER-1732).
    pub version: i32,
    /// The proposed leader (`id`).
    pub leader: Sid,
    /// The proposed leader's zxid.
    pub zxid: Zxid,
    /// The election round (`logicalclock`) the vote was cast in.
    pub election_epoch: i64,
    /// The proposed leader's epoch.
    pub peer_epoch: i64,
    /// The voter's state when it sent the vote.
    pub state: ServerState,
}

impl Vote {
    /// Java's 4-argument `new Vote(id, zxid, electionEpoch, peerEpoch)`: version 0, LOOKING.
    pub fn looking(p: Proposal, election_epoch: i64) -> Vote {
        Vote {
            version: 0,
            leader: p.leader,
            zxid: p.zxid,
            election_epoch,
            peer_epoch: p.peer_epoch,
            state: ServerState::Looking,
        }
    }

    /// The proposal the vote carries.
    pub fn proposal(&self) -> Proposal {
        Proposal {
            leader: self.leader,
            zxid: self.zxid,
            peer_epoch: self.peer_epoch,
        }
    }

    /// `Vote.equals`, which is what FastLeaderElection.getVoteTracker counts agreement with.
    ///
    /// If either side is LOOKING, all of leader, zxid, election epoch and peer epoch must
    /// match. Between two out-of-election votes (FOLLOWING/LEADING/OBSERVING) zxid and
    /// election epoch are skipped (ZOOKEEPER-1805: they drift after the election), and the
    /// peer epoch too when exactly one side has version 0 (ZOOKEEPER-1732, mixed versions).
    pub fn matches(&self, other: &Vote) -> bool {
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            return self.leader == other.leader
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch;
        }
        if (self.version > 0) ^ (other.version > 0) {
            self.leader == other.leader
        } else {
            self.leader == other.leader && self.peer_epoch == other.peer_epoch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `testdata/total_order.txt`: `new_sid new_zxid new_epoch cur_sid cur_zxid
    /// cur_epoch new_weight => true|false`, numbers in decimal or 0x hex, `#` comments.
    fn rows() -> Vec<(Proposal, Proposal, u64, bool, usize)> {
        fn num(s: &str) -> i64 {
            if let Some(hex) = s.strip_prefix("0x") {
                u64::from_str_radix(hex, 16).expect("hex") as i64
            } else if s == "MIN" {
                i64::MIN
            } else {
                s.parse().expect("number")
            }
        }
        let text = include_str!("testdata/total_order.txt");
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (lhs, want) = line.split_once("=>").expect("a row needs =>");
            let f: Vec<i64> = lhs.split_whitespace().map(num).collect();
            assert_eq!(f.len(), 7, "line {}: seven numbers", i + 1);
            let new = Proposal {
                leader: Sid(f[0] as u64),
                zxid: Zxid(f[1]),
                peer_epoch: f[2],
            };
            let cur = Proposal {
                leader: Sid(f[3] as u64),
                zxid: Zxid(f[4]),
                peer_epoch: f[5],
            };
            let want = match want.trim() {
                "true" => true,
                "false" => false,
                other => panic!("line {}: expected true|false, got {other}", i + 1),
            };
            out.push((new, cur, f[6] as u64, want, i + 1));
        }
        out
    }

    #[test]
    fn total_order_table() {
        let rows = rows();
        assert!(rows.len() >= 15, "the table should not silently shrink");
        for (new, cur, weight, want, line) in rows {
            assert_eq!(
                total_order_predicate(&new, &cur, weight),
                want,
                "testdata/total_order.txt line {line}: {new:?} vs {cur:?} weight {weight}"
            );
        }
    }

    #[test]
    fn total_order_is_strict() {
        // Never both ways, never against itself: the election converges on one maximum.
        for (new, cur, _, _, _) in rows() {
            assert!(
                !(total_order_predicate(&new, &cur, 1) && total_order_predicate(&cur, &new, 1))
            );
            assert!(!total_order_predicate(&new, &new, 1));
        }
    }

    fn vote(version: i32, leader: u64, zxid: i64, ee: i64, pe: i64, state: ServerState) -> Vote {
        Vote {
            version,
            leader: Sid(leader),
            zxid: Zxid(zxid),
            election_epoch: ee,
            peer_epoch: pe,
            state,
        }
    }

    #[test]
    fn matches_compares_everything_when_either_side_is_looking() {
        use ServerState::*;
        let a = vote(0, 3, 0x100, 2, 1, Looking);
        assert!(a.matches(&vote(2, 3, 0x100, 2, 1, Following)));
        assert!(
            !a.matches(&vote(0, 3, 0x101, 2, 1, Following)),
            "zxid differs"
        );
        assert!(
            !a.matches(&vote(0, 3, 0x100, 3, 1, Leading)),
            "election epoch differs"
        );
        assert!(
            !a.matches(&vote(0, 3, 0x100, 2, 2, Looking)),
            "peer epoch differs"
        );
    }

    #[test]
    fn matches_out_of_election_skips_zxid_and_election_epoch() {
        use ServerState::*;
        let a = vote(2, 3, 0x100, 2, 1, Following);
        assert!(a.matches(&vote(2, 3, 0x999, 7, 1, Leading)));
        assert!(
            !a.matches(&vote(2, 3, 0x100, 2, 2, Leading)),
            "same versions: peer epoch counts"
        );
        // One side version 0, the other not: only the leader id counts (ZOOKEEPER-1732).
        assert!(a.matches(&vote(0, 3, 0x100, 2, 9, Leading)));
        assert!(!a.matches(&vote(0, 4, 0x100, 2, 1, Leading)));
        // Both version 0: the peer epoch counts again.
        assert!(!vote(0, 3, 0, 0, 1, Following).matches(&vote(0, 3, 0, 0, 2, Leading)));
    }
}
