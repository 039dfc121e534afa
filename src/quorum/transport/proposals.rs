//! The packets of a DIFF: the leader's logged txns as PROPOSAL + COMMIT pairs.

// The leader role loop that streams these is being written beside it.

use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::storage::{StorageError, TxnLog};

/// Entries read from the log per [`TxnLog::read_range`] call.
const READ_SLICE: usize = 1024;

/// LearnerHandler.queueCommittedProposals for the txns logged in (`after`, `upto`], at
/// most `limit` of them: each as a PROPOSAL (its zxid; data = the logged entry exactly,
/// TxnHeader + record + optional TxnDigest, which is what a PROPOSAL carries; null
/// authinfo) followed by its COMMIT (its zxid; null data and authinfo, as Java's
/// `new QuorumPacket(Leader.COMMIT, zxid, null, null)`). Fewer than `limit` txns only
/// when the log holds no more up to `upto`; the caller continues after the last zxid.
pub(crate) fn proposals_for(
    log: &dyn TxnLog,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<QuorumPacket>, StorageError> {
    let mut out = Vec::new();
    let mut from = after;
    let mut taken = 0;
    while taken < limit && from < upto {
        let want = (limit - taken).min(READ_SLICE);
        let entries = log.read_range(from, want)?;
        let got = entries.len();
        for (zxid, entry) in entries {
            if zxid > upto {
                return Ok(out);
            }
            if zxid <= from {
                // read_range promises zxid order after `from`: anything else would send a
                // learner txns out of order.
                return Err(StorageError::Corrupt(format!(
                    "the log returned 0x{zxid:x} after 0x{from:x}"
                )));
            }
            out.push(QuorumPacket::with_data(pt::PROPOSAL, zxid, entry));
            out.push(QuorumPacket::bare(pt::COMMIT, zxid));
            from = zxid;
            taken += 1;
        }
        if got < want {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "proposals_tests.rs"]
mod tests;
