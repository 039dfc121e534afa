//! The packets the leader's machines speak, as values: [`LearnerPacket`] is what a learner
//! sends (decoded from a `QuorumPacket`), [`LeaderPacket`] what the leader queues. The
//! driver converts at the edge with [`LearnerPacket::decode`] and [`LeaderPacket::encode`].

use bytes::{Bytes, BytesMut};

use super::LeaderError;
use crate::jute::Jute;
use crate::proto::acl::Id;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::{
    AckEpoch, CommitAndActivate, ForwardedRequest, LearnerInfoView, Payload, PingTouches,
    RevalidateAnswer, RevalidateAsk, ZAB_PROTOCOL_VERSION,
};
use crate::quorum::{LearnerType, Zxid};

/// A packet from a learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnerPacket {
    /// FOLLOWERINFO or OBSERVERINFO: the first packet. `zxid` is
    /// `makeZxid(acceptedEpoch, 0)`; the sid is `None` for null data (the leader then
    /// numbers the learner itself, LearnerMaster.getAndDecrementFollowerCounter).
    Info {
        /// Participant for FOLLOWERINFO, Observer for OBSERVERINFO.
        learner_type: LearnerType,
        /// The packet's zxid (its epoch is the learner's acceptedEpoch).
        zxid: Zxid,
        /// The sid the learner claims.
        sid: Option<i64>,
        /// Its protocol version (0x1 when absent, as LearnerHandler defaults).
        protocol_version: i32,
        /// The version of its last config, if it sent one.
        config_version: Option<i64>,
    },
    /// ACKEPOCH: the learner's currentEpoch (-1: it had accepted this epoch already) and
    /// its last logged zxid.
    AckEpoch {
        /// The learner's currentEpoch as an int, widened.
        current_epoch: i64,
        /// Its last logged zxid.
        last_zxid: Zxid,
    },
    /// ACK of a proposal (or of NEWLEADER/UPTODATE, whose counter is 0).
    Ack {
        /// The acknowledged zxid.
        zxid: Zxid,
    },
    /// PING reply: the sessions touched on the learner since its last reply.
    Ping {
        /// (session id, timeout ms) pairs.
        touches: Vec<(i64, i32)>,
    },
    /// REVALIDATE: a client reattached to the learner with this session.
    Revalidate {
        /// The session.
        session_id: i64,
        /// Its timeout.
        timeout_ms: i32,
    },
    /// REQUEST: a client write (or sync) forwarded for proposal.
    Request {
        /// The client's session.
        session_id: i64,
        /// The client's xid.
        cxid: i32,
        /// The opcode (`sync` is 9).
        op_type: i32,
        /// The request record after the header.
        body: Vec<u8>,
        /// The client's auth ids.
        authinfo: Option<Vec<Id>>,
    },
    /// Any other type: LearnerHandler logs "unexpected quorum packet" and goes on.
    Other {
        /// The packet type.
        r#type: i32,
    },
}

fn malformed(kind: &'static str, e: impl std::fmt::Display) -> LeaderError {
    LeaderError::Malformed {
        kind,
        reason: e.to_string(),
    }
}

impl LearnerPacket {
    /// Reads a packet's fields the way LearnerHandler does; an error for data too short
    /// for its type (Java would throw and drop the learner).
    pub fn decode(
        r#type: i32,
        zxid: i64,
        data: Option<&[u8]>,
        authinfo: Option<Vec<Id>>,
    ) -> Result<LearnerPacket, LeaderError> {
        let bytes = data.unwrap_or_default();
        Ok(match r#type {
            pt::FOLLOWERINFO | pt::OBSERVERINFO => {
                let view = data.map(LearnerInfoView::parse);
                LearnerPacket::Info {
                    learner_type: if r#type == pt::OBSERVERINFO {
                        LearnerType::Observer
                    } else {
                        LearnerType::Participant
                    },
                    zxid: Zxid(zxid),
                    sid: view.and_then(|v| v.serverid),
                    protocol_version: view.and_then(|v| v.protocol_version).unwrap_or(0x1),
                    config_version: view.and_then(|v| v.config_version),
                }
            }
            pt::ACKEPOCH => LearnerPacket::AckEpoch {
                current_epoch: i64::from(
                    AckEpoch::decode(bytes)
                        .map_err(|e| malformed("ACKEPOCH", e))?
                        .current_epoch,
                ),
                last_zxid: Zxid(zxid),
            },
            pt::ACK => LearnerPacket::Ack { zxid: Zxid(zxid) },
            pt::PING => LearnerPacket::Ping {
                touches: PingTouches::decode(bytes)
                    .map_err(|e| malformed("PING", e))?
                    .0
                    .into_iter()
                    .map(|t| (t.session_id, t.timeout_ms))
                    .collect(),
            },
            pt::REVALIDATE => {
                let ask = RevalidateAsk::decode(bytes).map_err(|e| malformed("REVALIDATE", e))?;
                LearnerPacket::Revalidate {
                    session_id: ask.session_id,
                    timeout_ms: ask.timeout_ms,
                }
            }
            pt::REQUEST => {
                let r = ForwardedRequest::decode(bytes).map_err(|e| malformed("REQUEST", e))?;
                LearnerPacket::Request {
                    session_id: r.session_id,
                    cxid: r.cxid,
                    op_type: r.op_type,
                    body: r.body,
                    authinfo,
                }
            }
            other => LearnerPacket::Other { r#type: other },
        })
    }

    /// The type's name, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            LearnerPacket::Info { .. } => "FOLLOWERINFO/OBSERVERINFO",
            LearnerPacket::AckEpoch { .. } => "ACKEPOCH",
            LearnerPacket::Ack { .. } => "ACK",
            LearnerPacket::Ping { .. } => "PING",
            LearnerPacket::Revalidate { .. } => "REVALIDATE",
            LearnerPacket::Request { .. } => "REQUEST",
            LearnerPacket::Other { r#type } => pt::name(*r#type),
        }
    }
}

/// A packet the leader queues to a learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderPacket {
    /// LEADERINFO: the new epoch's first zxid, with protocol version 0x10000.
    LeaderInfo {
        /// `makeZxid(newEpoch, 0)`.
        zxid: Zxid,
    },
    /// DIFF: the proposals that follow bring the learner up to `zxid`.
    Diff {
        /// The last committed zxid the diff reaches (or the peer's own, when in sync).
        zxid: Zxid,
    },
    /// TRUNC: drop every txn after `zxid`.
    Trunc {
        /// The zxid to truncate to.
        zxid: Zxid,
    },
    /// SNAP: a snapshot at `zxid` follows on the stream.
    Snap {
        /// The snapshot's last processed zxid.
        zxid: Zxid,
    },
    /// PROPOSAL: log this txn and ACK it.
    Proposal {
        /// The txn's zxid.
        zxid: Zxid,
        /// The txn entry as the wire carries it (TxnHeader, txn, digest).
        data: Bytes,
    },
    /// COMMIT: apply the txn with this zxid.
    Commit {
        /// The committed zxid.
        zxid: Zxid,
    },
    /// INFORM: a committed txn, for observers.
    Inform {
        /// The txn's zxid.
        zxid: Zxid,
        /// The txn entry.
        data: Bytes,
    },
    /// COMMITANDACTIVATE: COMMIT of a reconfig, naming the leader of the new config
    /// (Leader.commitAndActivate).
    CommitAndActivate {
        /// The reconfig's zxid.
        zxid: Zxid,
        /// The designated leader's sid.
        designated: i64,
    },
    /// INFORMANDACTIVATE: INFORM of a reconfig, for observers (Leader.informAndActivate).
    InformAndActivate {
        /// The reconfig's zxid.
        zxid: Zxid,
        /// The designated leader's sid.
        designated: i64,
        /// The reconfig's txn entry, as its PROPOSAL carried it.
        data: Bytes,
    },
    /// NEWLEADER: end of sync; carries the leader's config (null for pre-0x10000 learners).
    NewLeader {
        /// `makeZxid(newEpoch, 0)`.
        zxid: Zxid,
        /// QuorumVerifier.toString bytes.
        config: Option<Bytes>,
    },
    /// UPTODATE: start serving.
    UpToDate,
    /// PING: liveness; the zxid is the last proposed one (LearnerHandler.ping).
    Ping {
        /// Leader.getLastProposed.
        zxid: Zxid,
    },
    /// SYNC: a forwarded sync is answered (Leader.sendSync: zxid 0).
    Sync,
    /// REVALIDATE answer (Leader.revalidateSession): the ask packet sent back with the
    /// session id and whether it is valid; its zxid stays the ask's, -1 from any learner.
    Revalidate {
        /// The session.
        session_id: i64,
        /// Whether it may reattach.
        valid: bool,
    },
}

impl LeaderPacket {
    /// Appends the packet as the quorum port carries it (a jute `QuorumPacket`).
    pub fn encode(&self, out: &mut BytesMut) {
        self.to_packet().write(out);
    }

    /// The `QuorumPacket` the quorum port carries.
    pub(crate) fn to_packet(&self) -> QuorumPacket {
        let bare = |t, z: Zxid| QuorumPacket::bare(t, z.0);
        match self {
            LeaderPacket::LeaderInfo { zxid } => QuorumPacket::with_data(
                pt::LEADERINFO,
                zxid.0,
                ZAB_PROTOCOL_VERSION.to_be_bytes().to_vec(),
            ),
            LeaderPacket::Diff { zxid } => bare(pt::DIFF, *zxid),
            LeaderPacket::Trunc { zxid } => bare(pt::TRUNC, *zxid),
            LeaderPacket::Snap { zxid } => bare(pt::SNAP, *zxid),
            LeaderPacket::Proposal { zxid, data } => {
                QuorumPacket::with_data(pt::PROPOSAL, zxid.0, data.to_vec())
            }
            LeaderPacket::Commit { zxid } => bare(pt::COMMIT, *zxid),
            LeaderPacket::Inform { zxid, data } => {
                QuorumPacket::with_data(pt::INFORM, zxid.0, data.to_vec())
            }
            LeaderPacket::CommitAndActivate { zxid, designated } => QuorumPacket::with_data(
                pt::COMMITANDACTIVATE,
                zxid.0,
                CommitAndActivate {
                    designated_leader: *designated,
                }
                .to_data(),
            ),
            // Leader.buildInformAndActivePacket: the designated leader, then the proposal's
            // data as is (not re-encoded, so a txn this side cannot parse still goes out).
            LeaderPacket::InformAndActivate {
                zxid,
                designated,
                data,
            } => {
                let mut d = Vec::with_capacity(8 + data.len());
                d.extend_from_slice(&designated.to_be_bytes());
                d.extend_from_slice(data);
                QuorumPacket::with_data(pt::INFORMANDACTIVATE, zxid.0, d)
            }
            LeaderPacket::NewLeader { zxid, config } => QuorumPacket {
                r#type: pt::NEWLEADER,
                zxid: zxid.0,
                data: config.as_ref().map(|c| c.to_vec()),
                authinfo: None,
            },
            // LearnerHandler queues `new QuorumPacket(Leader.UPTODATE, -1, null, null)`.
            LeaderPacket::UpToDate => QuorumPacket::bare(pt::UPTODATE, -1),
            LeaderPacket::Ping { zxid } => bare(pt::PING, *zxid),
            LeaderPacket::Sync => QuorumPacket::bare(pt::SYNC, 0),
            LeaderPacket::Revalidate { session_id, valid } => QuorumPacket::with_data(
                pt::REVALIDATE,
                -1,
                RevalidateAnswer {
                    session_id: *session_id,
                    valid: *valid,
                }
                .to_data(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::quorum::payload::SessionTouch;

    #[test]
    fn learner_packets_decode_like_learner_handler() {
        let info = LearnerPacket::decode(
            pt::FOLLOWERINFO,
            0x3_0000_0000,
            Some(&[0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0]),
            None,
        )
        .expect("info");
        assert_eq!(
            info,
            LearnerPacket::Info {
                learner_type: LearnerType::Participant,
                zxid: Zxid(0x3_0000_0000),
                sid: Some(2),
                protocol_version: 0x10000,
                config_version: None,
            }
        );
        // Null data: no sid, version 0x1 (LearnerHandler's defaults).
        let bare = LearnerPacket::decode(pt::OBSERVERINFO, 0, None, None).expect("bare");
        assert!(matches!(
            bare,
            LearnerPacket::Info {
                learner_type: LearnerType::Observer,
                sid: None,
                protocol_version: 1,
                ..
            }
        ));
        let touches = PingTouches(vec![SessionTouch {
            session_id: 7,
            timeout_ms: 3000,
        }]);
        assert_eq!(
            LearnerPacket::decode(pt::PING, 0, Some(&touches.to_data()), None),
            Ok(LearnerPacket::Ping {
                touches: vec![(7, 3000)]
            })
        );
    }

    #[test]
    fn short_data_is_an_error_not_a_panic() {
        for t in [pt::ACKEPOCH, pt::PING, pt::REVALIDATE, pt::REQUEST] {
            let got = LearnerPacket::decode(t, 0, Some(&[1, 2, 3]), None);
            assert!(
                matches!(got, Err(LeaderError::Malformed { .. })),
                "type {t}: {got:?}"
            );
        }
        assert!(LearnerPacket::decode(pt::ACKEPOCH, 0, None, None).is_err());
        assert_eq!(
            LearnerPacket::decode(99, 0, None, None),
            Ok(LearnerPacket::Other { r#type: 99 })
        );
    }

    #[test]
    fn leader_packets_encode_as_quorum_packets() {
        let mut out = BytesMut::new();
        LeaderPacket::UpToDate.encode(&mut out);
        let p = QuorumPacket::from_bytes(&out).expect("decodes");
        assert_eq!(p, QuorumPacket::bare(pt::UPTODATE, -1));
        let mut out = BytesMut::new();
        LeaderPacket::LeaderInfo {
            zxid: Zxid::new(4, 0),
        }
        .encode(&mut out);
        let p = QuorumPacket::from_bytes(&out).expect("decodes");
        assert_eq!((p.r#type, p.zxid), (pt::LEADERINFO, 0x4_0000_0000));
        assert_eq!(p.data, Some(vec![0, 1, 0, 0]));
    }

    /// Leader.commitAndActivate / buildInformAndActivePacket, byte for byte.
    #[test]
    fn activate_packets_encode_as_java_does() {
        let caa = LeaderPacket::CommitAndActivate {
            zxid: Zxid::new(3, 7),
            designated: 0x0102,
        };
        let mut out = BytesMut::new();
        caa.encode(&mut out);
        let mut want = Vec::new();
        want.extend_from_slice(&9i32.to_be_bytes());
        want.extend_from_slice(&0x3_0000_0007i64.to_be_bytes());
        want.extend_from_slice(&8i32.to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        want.extend_from_slice(&(-1i32).to_be_bytes()); // authinfo: null vector
        assert_eq!(out.to_vec(), want);

        let iaa = LeaderPacket::InformAndActivate {
            zxid: Zxid::new(3, 7),
            designated: 2,
            data: Bytes::from_static(&[0xaa, 0xbb, 0xcc]),
        };
        let p = iaa.to_packet();
        assert_eq!((p.r#type, p.zxid), (19, 0x3_0000_0007));
        assert_eq!(p.data, Some(vec![0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb, 0xcc]));
        assert_eq!(p.authinfo, None);
    }
}
