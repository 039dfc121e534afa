//! Synchronization: from the first DIFF/TRUNC/SNAP to UPTODATE (Learner.syncWithLeader,
//! 3.8.5 and later).

use std::collections::VecDeque;

use super::action::{Action, Warning};
use super::error::ZabError;
use super::learner::{malformed, Learner, Phase};
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::{CommitAndActivate, InformAndActivate, Payload};
use crate::proto::txn::TxnEntry;
use crate::quorum::Zxid;

/// A proposal (or INFORM) received during sync (Learner.PacketInFlight), with its bytes.
#[derive(Debug, Clone)]
pub(super) struct InFlight {
    pub(super) zxid: Zxid,
    pub(super) entry: Box<TxnEntry>,
    pub(super) raw: Vec<u8>,
}

/// Where NEWLEADER stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum NewLeader {
    /// Not received yet.
    #[default]
    NotYet,
    /// Received; its ACK waits until the txns logged up to this zxid are durable.
    Durable(Zxid),
    /// ACKed.
    Acked,
}

/// syncWithLeader's locals.
#[derive(Debug, Default)]
pub(super) struct SyncState {
    /// SNAP and TRUNC leave history the log lacks: snapshot at NEWLEADER.
    snapshot_needed: bool,
    /// That snapshot is fsynced (after SNAP, whose log has a gap).
    sync_snapshot: bool,
    /// Whether txns go to the log (DIFF, or anything after NEWLEADER) rather than being
    /// applied straight to the tree.
    write_to_txn_log: bool,
    pub(super) packets_not_committed: VecDeque<InFlight>,
    pub(super) packets_committed: VecDeque<Zxid>,
    /// Logged and made durable at NEWLEADER; ACKed after the UPTODATE ACK (ZOOKEEPER-4785:
    /// the leader must see the NEWLEADER ACK first).
    requests_to_ack: Vec<Zxid>,
    pub(super) newleader: NewLeader,
    /// Where the log we keep from before this sync ends (DIFF: all of it; TRUNC: up to
    /// the TRUNC zxid; SNAP: nothing, the snapshot replaces it).
    kept_log_end: Option<Zxid>,
    /// NEWLEADER's config, activated at UPTODATE (newLeaderQV).
    newleader_config: Option<Vec<u8>>,
}

impl SyncState {
    /// Whether a NEWLEADER ACK was waiting for durability up to at most `upto`.
    pub(super) fn newleader_waits_for(&self, upto: Zxid) -> bool {
        matches!(self.newleader, NewLeader::Durable(last) if last <= upto)
    }
}

/// The config a reconfig txn proposes (its SetDataTxn's data), if it is one.
pub(super) fn proposed_config(entry: &TxnEntry) -> Option<Vec<u8>> {
    match &entry.txn {
        crate::proto::txn::Txn::Reconfig(t) => Some(t.data.clone().unwrap_or_default()),
        _ => None,
    }
}

/// Decodes a PROPOSAL's or INFORM's txn, keeping the bytes.
pub(super) fn decode_txn(p: &QuorumPacket) -> Result<InFlight, ZabError> {
    let raw = p.data_or_empty().to_vec();
    let entry = TxnEntry::decode(&raw).map_err(malformed(pt::name(p.r#type)))?;
    Ok(InFlight {
        zxid: Zxid(entry.header.zxid),
        entry: Box::new(entry),
        raw,
    })
}

impl Learner {
    /// The first sync packet says how we catch up.
    pub(super) fn on_sync_start(
        &mut self,
        p: &QuorumPacket,
        out: &mut Vec<Action>,
    ) -> Result<(), ZabError> {
        let zxid = Zxid(p.zxid);
        let s = &mut self.sync;
        match p.r#type {
            // The txns follow: log them on top of the snapshot we have.
            pt::DIFF => {
                s.write_to_txn_log = true;
                s.kept_log_end = Some(self.last_logged);
            }
            pt::SNAP => {
                (s.snapshot_needed, s.sync_snapshot) = (true, true);
                self.last_queued = zxid;
                out.push(Action::LoadSnapshot { zxid });
                self.phase = Phase::AwaitSnapshot;
                return Ok(());
            }
            pt::TRUNC => {
                s.snapshot_needed = true;
                s.kept_log_end = Some(self.last_logged.min(zxid));
                self.last_queued = zxid;
                out.push(Action::Truncate { zxid });
            }
            other => return Err(ZabError::BadSyncStart(pt::name(other))),
        }
        self.phase = Phase::Syncing;
        Ok(())
    }

    /// A packet between the sync start and UPTODATE. Packet types the Java loop has no
    /// case for are read and dropped (with a warning, except the expected PINGs).
    pub(super) fn on_sync_packet(
        &mut self,
        p: &QuorumPacket,
        out: &mut Vec<Action>,
    ) -> Result<(), ZabError> {
        match p.r#type {
            pt::PROPOSAL => {
                let pif = decode_txn(p)?;
                self.check_order(pif.zxid, out);
                self.note_proposed_config(&pif, out);
                self.sync.packets_not_committed.push_back(pif);
            }
            pt::COMMIT => self.on_sync_commit(Zxid(p.zxid), out)?,
            pt::COMMITANDACTIVATE => {
                // Learner.syncWithLeader: activate if it commits the oldest queued
                // proposal and that is a reconfig, then commit as usual.
                let zxid = Zxid(p.zxid);
                let head = self.sync.packets_not_committed.front().map(|pif| pif.zxid);
                if head == Some(zxid) {
                    if let Some(config) = self.reconfigs.get(&zxid).cloned() {
                        let designated = CommitAndActivate::decode(p.data_or_empty())
                            .map_err(malformed("COMMITANDACTIVATE"))?
                            .designated_leader;
                        out.push(Action::Activate {
                            config,
                            designated: Some((designated, zxid)),
                        });
                    }
                }
                self.on_sync_commit(zxid, out)?;
            }
            pt::INFORM => {
                let pif = decode_txn(p)?;
                self.check_order(pif.zxid, out);
                self.on_sync_inform(pif, out);
            }
            pt::INFORMANDACTIVATE => {
                let ia = InformAndActivate::decode(p.data_or_empty())
                    .map_err(malformed("INFORMANDACTIVATE"))?;
                let zxid = Zxid(ia.txn.header.zxid);
                if let Some(config) = proposed_config(&ia.txn) {
                    out.push(Action::Activate {
                        config,
                        designated: Some((ia.designated_leader, Zxid(p.zxid))),
                    });
                }
                let raw = ia.txn.to_bytes().to_vec();
                let pif = InFlight {
                    zxid,
                    entry: Box::new(ia.txn),
                    raw,
                };
                self.on_sync_inform(pif, out);
            }
            pt::NEWLEADER => {
                if p.data.as_ref().is_some_and(|d| d.len() > 1) {
                    let config = p.data_or_empty().to_vec();
                    out.push(Action::SeenConfig {
                        config: config.clone(),
                    });
                    self.sync.newleader_config = Some(config);
                }
                self.on_newleader(out)?
            }
            pt::UPTODATE => self.on_uptodate(out)?,
            // The leader pings from NEWLEADER on; Java reads and drops them until UPTODATE.
            pt::PING => {}
            other => out.push(Action::Warn(Warning::Ignored {
                packet: pt::name(other),
                phase: self.phase.name(),
            })),
        }
        Ok(())
    }

    /// An INFORM during sync: applied at once before NEWLEADER of a SNAP/TRUNC, else queued
    /// as proposed and committed.
    fn on_sync_inform(&mut self, pif: InFlight, out: &mut Vec<Action>) {
        if self.sync.write_to_txn_log {
            self.sync.packets_committed.push_back(pif.zxid);
            self.sync.packets_not_committed.push_back(pif);
        } else {
            out.push(Action::Apply { entry: pif.entry });
        }
    }

    /// A reconfig proposal: its config is the last seen, and COMMITANDACTIVATE will name
    /// it by zxid.
    pub(super) fn note_proposed_config(&mut self, pif: &InFlight, out: &mut Vec<Action>) {
        if let Some(config) = proposed_config(&pif.entry) {
            out.push(Action::SeenConfig {
                config: config.clone(),
            });
            // Bounded by the pending proposals: one entry per reconfig among them.
            self.reconfigs.insert(pif.zxid, config);
        }
    }

    /// COMMIT during sync: before NEWLEADER of a SNAP/TRUNC, apply the head proposal to
    /// the tree (the NEWLEADER snapshot keeps it); otherwise queue it for UPTODATE, where
    /// FollowerZooKeeperServer.commit checks it against the pending txns.
    ///
    /// Java reads the head of packetsNotCommitted first and so fails (a
    /// NullPointerException, and a reconnect) on a COMMIT with nothing queued. We do the
    /// same, except after NEWLEADER when the txns NEWLEADER logged are still pending: a
    /// COMMIT for one of them (a proposal the leader had outstanding when it synced us)
    /// is then legitimate, and queued like any other.
    fn on_sync_commit(&mut self, zxid: Zxid, out: &mut Vec<Action>) -> Result<(), ZabError> {
        let s = &mut self.sync;
        let Some(head) = s.packets_not_committed.front() else {
            if s.newleader != NewLeader::NotYet && !self.pending_txns.is_empty() {
                s.packets_committed.push_back(zxid);
                return Ok(());
            }
            return Err(ZabError::CommitBeforeProposal(zxid));
        };
        if s.write_to_txn_log {
            s.packets_committed.push_back(zxid);
        } else if head.zxid != zxid {
            out.push(Action::Warn(Warning::CommitOutOfOrder {
                commit: zxid,
                next: head.zxid,
            }));
        } else if let Some(pif) = s.packets_not_committed.pop_front() {
            out.push(Action::Apply { entry: pif.entry });
        }
        Ok(())
    }

    /// NEWLEADER (Zab 1.0): snapshot if the log lacks history, make the synced proposals
    /// durable, then set currentEpoch and ACK (ZOOKEEPER-3911, ZOOKEEPER-4785). From here
    /// the leader may stay silent only syncLimit ticks.
    fn on_newleader(&mut self, out: &mut Vec<Action>) -> Result<(), ZabError> {
        if self.sync.newleader != NewLeader::NotYet {
            return Err(ZabError::Unexpected {
                packet: "second NEWLEADER",
                phase: self.phase.name(),
            });
        }
        if self.sync.snapshot_needed {
            out.push(Action::TakeSnapshot {
                sync: self.sync.sync_snapshot,
            });
        }
        self.sync.write_to_txn_log = true;
        self.silence_limit_ms = self.cfg.tick_time_ms.saturating_mul(self.cfg.sync_limit);
        // Only a follower logs them now (FollowerZooKeeperServer.appendRequest); an
        // observer keeps them for UPTODATE.
        // The kept log counts too: a tail our previous role logged but never synced must
        // not be covered by this ACK (the leader counts it as our history from now on).
        let mut last = (self.sync.kept_log_end).filter(|&end| end > self.durable_upto);
        if !self.is_observer() {
            for pif in std::mem::take(&mut self.sync.packets_not_committed) {
                self.add_pending(pif.zxid);
                self.sync.requests_to_ack.push(pif.zxid);
                last = Some(pif.zxid);
                out.push(Action::Log {
                    zxid: pif.zxid,
                    entry: pif.entry,
                    raw: pif.raw,
                });
            }
        }
        match last {
            Some(last) => self.sync.newleader = NewLeader::Durable(last),
            None => self.ack_newleader(out),
        }
        Ok(())
    }

    /// The synced txns are durable: currentEpoch, then the NEWLEADER ACK, whose zxid is
    /// (newEpoch, 0) as registerWithLeader computed it.
    pub(super) fn ack_newleader(&mut self, out: &mut Vec<Action>) {
        self.current_epoch = self.new_epoch;
        out.push(Action::PersistCurrentEpoch(self.new_epoch));
        out.push(self.epoch_ack());
        self.sync.newleader = NewLeader::Acked;
    }

    fn epoch_ack(&self) -> Action {
        Action::Send(QuorumPacket::bare(pt::ACK, Zxid::new(self.new_epoch, 0).0))
    }

    /// UPTODATE: ACK it, serve, then ACK what NEWLEADER logged, log what came after it,
    /// and commit what was committed meanwhile (the tail of syncWithLeader).
    fn on_uptodate(&mut self, out: &mut Vec<Action>) -> Result<(), ZabError> {
        // We refuse the pre-1.0 path, and a 1.0 leader waits for our NEWLEADER ACK.
        if self.sync.newleader != NewLeader::Acked {
            return Err(ZabError::Unexpected {
                packet: "UPTODATE before the NEWLEADER ACK",
                phase: self.phase.name(),
            });
        }
        // Learner.syncWithLeader: NEWLEADER's config is activated before the UPTODATE ACK;
        // a major change ends the role there.
        if let Some(config) = self.sync.newleader_config.take() {
            out.push(Action::Activate {
                config,
                designated: None,
            });
        }
        out.push(self.epoch_ack());
        out.push(Action::Serving {
            epoch: self.new_epoch,
        });
        self.phase = Phase::Broadcast;
        let not_committed = std::mem::take(&mut self.sync.packets_not_committed);
        let mut committed = std::mem::take(&mut self.sync.packets_committed);
        if self.is_observer() {
            // Observer: each txn needs its commit, in order (Learner.syncWithLeader's
            // ObserverZooKeeperServer branch).
            for pif in not_committed {
                match committed.front() {
                    Some(&z) if z == pif.zxid => {
                        committed.pop_front();
                        out.push(Action::CommitInformed {
                            zxid: pif.zxid,
                            entry: pif.entry,
                            raw: pif.raw,
                        });
                    }
                    Some(&z) => out.push(Action::Warn(Warning::CommitOutOfOrder {
                        commit: z,
                        next: pif.zxid,
                    })),
                    None => out.push(Action::Warn(Warning::CommitWithoutTxn(pif.zxid))),
                }
            }
            return Ok(());
        }
        for z in std::mem::take(&mut self.sync.requests_to_ack) {
            out.push(Action::Send(QuorumPacket::bare(pt::ACK, z.0)));
        }
        for pif in not_committed {
            self.log_proposal(pif, out);
        }
        for z in committed {
            self.commit(z, out)?;
        }
        Ok(())
    }
}
