//! Who votes and what a quorum is (`flexible/QuorumVerifier`, `flexible/QuorumMaj`).

use std::collections::BTreeSet;

use super::Sid;

/// The view of the ensemble that leader election and Zab count votes against.
pub trait QuorumVerifier {
    /// The voting members (participants), in sid order.
    fn voting_members(&self) -> &BTreeSet<Sid>;

    /// The observers: members that never vote.
    fn observing_members(&self) -> &BTreeSet<Sid>;

    /// Whether `sid` votes in this view (FastLeaderElection.validVoter).
    fn is_voter(&self, sid: Sid) -> bool {
        self.voting_members().contains(&sid)
    }

    /// A member's weight; a weight of 0 can never be proposed as leader
    /// (FastLeaderElection.totalOrderPredicate). QuorumMaj gives every id weight 1.
    fn weight(&self, sid: Sid) -> u64;

    /// Whether `acks` holds a quorum. Sids outside the voting view are not counted, which is
    /// what SyncedLearnerTracker.addAck guarantees before Java's QuorumMaj counts.
    fn contains_quorum(&self, acks: &BTreeSet<Sid>) -> bool;
}

/// `QuorumMaj`: a quorum is more than half of the voting members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Majority {
    voters: BTreeSet<Sid>,
    observers: BTreeSet<Sid>,
    /// `half` in QuorumMaj: voters / 2, rounded down.
    half: usize,
}

impl Majority {
    /// A view with these voters and observers. A sid listed in both is a voter.
    pub fn new(
        voters: impl IntoIterator<Item = Sid>,
        observers: impl IntoIterator<Item = Sid>,
    ) -> Majority {
        let voters: BTreeSet<Sid> = voters.into_iter().collect();
        let observers = observers
            .into_iter()
            .filter(|sid| !voters.contains(sid))
            .collect();
        let half = voters.len() / 2;
        Majority {
            voters,
            observers,
            half,
        }
    }
}

impl QuorumVerifier for Majority {
    fn voting_members(&self) -> &BTreeSet<Sid> {
        &self.voters
    }

    fn observing_members(&self) -> &BTreeSet<Sid> {
        &self.observers
    }

    fn weight(&self, _sid: Sid) -> u64 {
        1
    }

    fn contains_quorum(&self, acks: &BTreeSet<Sid>) -> bool {
        acks.iter().filter(|sid| self.voters.contains(sid)).count() > self.half
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sids(list: &[u64]) -> Vec<Sid> {
        list.iter().map(|&s| Sid(s)).collect()
    }

    #[test]
    fn majority_table() {
        /// (voters, observers, acks, quorum?)
        type Row = (&'static [u64], &'static [u64], &'static [u64], bool);
        let rows: &[Row] = &[
            (&[1], &[], &[], false),
            (&[1], &[], &[1], true),
            (&[1, 2], &[], &[1], false), // 2 voters need both: half = 1, 1 > 1 is false
            (&[1, 2], &[], &[1, 2], true),
            (&[1, 2, 3], &[], &[1], false),
            (&[1, 2, 3], &[], &[2, 3], true),
            (&[1, 2, 3, 4], &[], &[1, 2], false),
            (&[1, 2, 3, 4], &[], &[1, 2, 4], true),
            (&[1, 2, 3, 4, 5], &[], &[1, 3, 5], true),
            (&[1, 2, 3, 4, 5], &[], &[4, 5], false),
            // Observers and strangers never count.
            (&[1, 2, 3], &[4, 5], &[1, 4, 5], false),
            (&[1, 2, 3], &[4], &[1, 9, 10], false),
            (&[1, 2, 3], &[4], &[1, 2, 4], true),
        ];
        for (voters, observers, acks, want) in rows {
            let qv = Majority::new(sids(voters), sids(observers));
            let acks = sids(acks).into_iter().collect();
            assert_eq!(
                qv.contains_quorum(&acks),
                *want,
                "voters {voters:?} observers {observers:?} acks {acks:?}"
            );
        }
    }

    #[test]
    fn voters_and_observers_are_kept_apart() {
        let qv = Majority::new(sids(&[1, 2, 3]), sids(&[3, 4]));
        assert!(qv.is_voter(Sid(3)));
        assert!(!qv.is_voter(Sid(4)));
        assert_eq!(qv.observing_members().len(), 1);
        assert_eq!(qv.weight(Sid(99)), 1, "QuorumMaj.getWeight is 1 for any id");
    }
}
