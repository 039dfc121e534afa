//! Discovery: FOLLOWERINFO out, LEADERINFO in, ACKEPOCH out (Learner.registerWithLeader).

use super::action::Action;
use super::error::ZabError;
use super::learner::{malformed, Learner, Phase};
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::{
    AckEpoch, LeaderInfo, LearnerInfo, Payload, ZAB_PROTOCOL_VERSION,
};
use crate::quorum::Zxid;

impl Learner {
    /// FOLLOWERINFO (OBSERVERINFO): zxid (acceptedEpoch, 0), and our sid, the Zab 1.0
    /// protocol version and our config version as a LearnerInfo.
    pub(super) fn learner_info(&self) -> QuorumPacket {
        let info = LearnerInfo {
            serverid: self.cfg.sid.as_i64(),
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: self.cfg.config_version,
        };
        let r#type = if self.is_observer() {
            pt::OBSERVERINFO
        } else {
            pt::FOLLOWERINFO
        };
        QuorumPacket::with_data(r#type, Zxid::new(self.accepted_epoch, 0).0, info.to_data())
    }

    /// LEADERINFO: accept a newer epoch, re-ack an equal one with -1, refuse an older one;
    /// ACKEPOCH carries our last logged zxid either way (Learner.registerWithLeader).
    pub(super) fn on_leader_info(
        &mut self,
        p: &QuorumPacket,
        out: &mut Vec<Action>,
    ) -> Result<(), ZabError> {
        match p.r#type {
            pt::LEADERINFO => {}
            // A pre-1.0 leader starts with NEWLEADER; Java still follows it.
            pt::NEWLEADER => return Err(ZabError::PreZab10Leader),
            other => {
                return Err(ZabError::Unexpected {
                    packet: pt::name(other),
                    phase: self.phase.name(),
                })
            }
        }
        // The protocol version is read (a short payload is an error, as getInt throws)
        // but nothing depends on it in 3.8.
        LeaderInfo::decode(p.data_or_empty()).map_err(malformed("LEADERINFO"))?;
        let new_epoch = Zxid(p.zxid).epoch();
        let acked = if new_epoch > self.accepted_epoch {
            // Java writes (int) currentEpoch, then makes the new epoch durable.
            let current = self.current_epoch as i32;
            self.accepted_epoch = new_epoch;
            out.push(Action::PersistAcceptedEpoch(new_epoch));
            current
        } else if new_epoch == self.accepted_epoch {
            // Already acked this epoch (to this leader before a reconnect, or to a rival):
            // -1 keeps this ACKEPOCH from counting toward the epoch's quorum, but the
            // leader still learns our last zxid to sync us.
            -1
        } else {
            return Err(ZabError::EpochBehind {
                leader: new_epoch,
                accepted: self.accepted_epoch,
            });
        };
        self.new_epoch = new_epoch;
        out.push(Action::Send(QuorumPacket::with_data(
            pt::ACKEPOCH,
            self.last_logged.0,
            AckEpoch {
                current_epoch: acked,
            }
            .to_data(),
        )));
        self.phase = Phase::SyncStart;
        Ok(())
    }
}
