//! Broadcast: following the leader once UPTODATE came (Follower.processPacket,
//! Observer.processPacket, FollowerZooKeeperServer.logRequest/commit).

use super::action::{Action, Warning};
use super::error::ZabError;
use super::learner::{malformed, Learner};
use super::sync::{decode_txn, proposed_config, InFlight};
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::{
    CommitAndActivate, InformAndActivate, Payload, RevalidateAnswer,
};
use crate::quorum::Zxid;

impl Learner {
    /// A packet while serving.
    pub(super) fn on_broadcast_packet(
        &mut self,
        p: &QuorumPacket,
        out: &mut Vec<Action>,
    ) -> Result<(), ZabError> {
        let observer = self.is_observer();
        match p.r#type {
            pt::PING => out.push(Action::ReplyPing {
                zxid: p.zxid,
                authinfo: p.authinfo.clone(),
            }),
            pt::PROPOSAL if !observer => {
                let pif = decode_txn(p)?;
                self.check_order(pif.zxid, out);
                self.note_proposed_config(&pif, out);
                self.log_proposal(pif, out);
            }
            pt::COMMIT if !observer => self.commit(Zxid(p.zxid), out)?,
            pt::COMMITANDACTIVATE if !observer => {
                // Follower.processPacket: the config of the pending reconfig is activated
                // and the txn committed; a major change then ends the role.
                let zxid = Zxid(p.zxid);
                let designated = CommitAndActivate::decode(p.data_or_empty())
                    .map_err(malformed("COMMITANDACTIVATE"))?
                    .designated_leader;
                let config = self
                    .reconfigs
                    .get(&zxid)
                    .cloned()
                    .ok_or(ZabError::Unexpected {
                        packet: "COMMITANDACTIVATE of a txn that is not a pending reconfig",
                        phase: self.phase.name(),
                    })?;
                // Activated before the commit applies, so the reply to a forwarded reconfig
                // carries the new config; if the role ends there, the txn is logged and
                // the next role applies it.
                let mut committed = Vec::new();
                self.commit(zxid, &mut committed)?;
                out.push(Action::Activate {
                    config,
                    designated: Some((designated, zxid)),
                });
                out.extend(committed);
            }
            pt::INFORM if observer => {
                let pif = decode_txn(p)?;
                out.push(Action::CommitInformed {
                    zxid: pif.zxid,
                    entry: pif.entry,
                    raw: pif.raw,
                });
            }
            pt::REVALIDATE => {
                let answer =
                    RevalidateAnswer::decode(p.data_or_empty()).map_err(malformed("REVALIDATE"))?;
                out.push(Action::Revalidated {
                    session_id: answer.session_id,
                    valid: answer.valid,
                });
            }
            pt::SYNC => out.push(Action::SyncDone),
            pt::INFORMANDACTIVATE if observer => {
                // Observer.processPacket: activate, apply, and end the role on a major
                // change.
                let ia = InformAndActivate::decode(p.data_or_empty())
                    .map_err(malformed("INFORMANDACTIVATE"))?;
                let config = proposed_config(&ia.txn).ok_or(ZabError::Unexpected {
                    packet: "INFORMANDACTIVATE of a txn that is not a reconfig",
                    phase: self.phase.name(),
                })?;
                let zxid = Zxid(ia.txn.header.zxid);
                let raw = ia.txn.to_bytes().to_vec();
                // Activated first, so a forwarded reconfig's reply carries the new config;
                // if the role ends there, the next leader's sync brings the txn.
                out.push(Action::Activate {
                    config,
                    designated: Some((ia.designated_leader, Zxid(p.zxid))),
                });
                out.push(Action::CommitInformed {
                    zxid,
                    entry: Box::new(ia.txn),
                    raw,
                });
            }
            // UPTODATE again, PROPOSAL/COMMIT at an observer, INFORM at a follower, and
            // unknown types: Java logs and goes on.
            other => out.push(Action::Warn(Warning::Ignored {
                packet: pt::name(other),
                phase: self.phase.name(),
            })),
        }
        Ok(())
    }

    /// Warns when `zxid` does not follow the last queued proposal. Java compares with
    /// `lastQueued + 1` where lastQueued starts at 0 for every connection, so it warns on
    /// every first proposal; we start from our sync point and also accept the first
    /// proposal of a later epoch (counter 1), so the warning means a real gap. Only a
    /// warning either way: the leader's order is trusted.
    pub(super) fn check_order(&mut self, zxid: Zxid, out: &mut Vec<Action>) {
        let last = self.last_queued;
        let next_epoch_start = zxid.epoch() > last.epoch() && zxid.counter() == 1;
        if zxid.0 != last.0.wrapping_add(1) && !next_epoch_start {
            out.push(Action::Warn(Warning::UnexpectedZxid {
                got: zxid,
                expected: Zxid(last.0.wrapping_add(1)),
            }));
        }
        self.last_queued = zxid;
    }

    /// FollowerZooKeeperServer.logRequest: pending until its COMMIT (unless the counter
    /// is 0), and ACKed once durable.
    pub(super) fn log_proposal(&mut self, pif: InFlight, out: &mut Vec<Action>) {
        self.add_pending(pif.zxid);
        self.unacked.push_back(pif.zxid);
        out.push(Action::Log {
            zxid: pif.zxid,
            entry: pif.entry,
            raw: pif.raw,
        });
    }

    /// buildRequestToProcess: only txns with a non-zero counter wait for a COMMIT.
    pub(super) fn add_pending(&mut self, zxid: Zxid) {
        if zxid.counter() != 0 {
            self.pending_txns.push_back(zxid);
        }
    }

    /// FollowerZooKeeperServer.commit: the COMMIT must be for the oldest pending txn;
    /// anything else means the histories diverged, and Java exits.
    pub(super) fn commit(&mut self, zxid: Zxid, out: &mut Vec<Action>) -> Result<(), ZabError> {
        match self.pending_txns.front() {
            None => out.push(Action::Warn(Warning::CommitWithoutTxn(zxid))),
            Some(&head) if head != zxid => {
                return Err(ZabError::UnmatchedCommit {
                    commit: zxid,
                    pending: head,
                })
            }
            Some(_) => {
                self.pending_txns.pop_front();
                self.reconfigs.remove(&zxid);
                out.push(Action::Commit { zxid });
            }
        }
        Ok(())
    }
}
