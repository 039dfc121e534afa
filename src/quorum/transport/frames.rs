//! Election notifications between the domain types of [`crate::quorum::election`] and the
//! byte codec of [`crate::proto::quorum::election`].

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Encoder;

use crate::proto::quorum::election::{ElectionFrameCodec, Notification as WireNotification};
use crate::quorum::election::{Notification, ToSend, CURRENT_VERSION};
use crate::quorum::{ServerState, Sid, Zxid};

/// FastLeaderElection.buildMsg, framed: `int length` + the 44 + config bytes.
pub(crate) fn encode(msg: &ToSend) -> Result<Bytes, String> {
    let wire = WireNotification {
        state: msg.state.ordinal(),
        leader: msg.leader.as_i64(),
        zxid: msg.zxid.0,
        election_epoch: msg.election_epoch,
        peer_epoch: Some(msg.peer_epoch),
        version: CURRENT_VERSION,
        config: Some(msg.config.clone()),
    };
    let mut out = BytesMut::with_capacity(4 + wire.encoded_len());
    ElectionFrameCodec
        .encode(&wire, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.freeze())
}

/// WorkerReceiver's reading of a frame from `from`: `Ok(None)` for a state ordinal Java
/// does not know (it skips those), an error for a payload it would drop as malformed.
/// The 28-byte form has no peer epoch: Java takes the zxid's.
pub(crate) fn decode(from: Sid, payload: &[u8]) -> Result<Option<Notification>, String> {
    let wire = WireNotification::decode(payload).map_err(|e| e.to_string())?;
    let Some(state) = ServerState::from_ordinal(wire.state) else {
        return Ok(None);
    };
    Ok(Some(Notification {
        version: wire.version,
        leader: Sid(wire.leader as u64),
        zxid: Zxid(wire.zxid),
        election_epoch: wire.election_epoch,
        state,
        sid: from,
        peer_epoch: wire.peer_epoch.unwrap_or(Zxid(wire.zxid).epoch()),
        config: wire.config,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_looking_notification_decodes() {
        let bytes = include_bytes!("../../../tests/golden/quorum/notification_looking.bin");
        // The golden file is a whole frame: int length, then the payload.
        let n = decode(Sid(2), &bytes[4..]).ok().flatten();
        let n = n.as_ref();
        assert_eq!(n.map(|n| n.state), Some(ServerState::Looking));
        assert_eq!(n.map(|n| n.sid), Some(Sid(2)));
        assert_eq!(n.map(|n| n.version), Some(2));
        assert!(n
            .and_then(|n| n.config.as_ref())
            .is_some_and(|c| c.ends_with(b"version=0")));
    }

    #[test]
    fn round_trip_and_unknown_state() {
        let msg = ToSend {
            leader: Sid(3),
            zxid: Zxid::new(1, 7),
            election_epoch: 4,
            state: ServerState::Following,
            peer_epoch: 1,
            config: b"server.3=h:1:2:participant\nversion=0".to_vec(),
        };
        let frame = encode(&msg).unwrap_or_default();
        assert_eq!(frame.len(), 4 + 44 + msg.config.len());
        let back = decode(Sid(3), &frame[4..]).ok().flatten();
        assert_eq!(back, Some(msg.clone().into_notification(Sid(3))));
        let mut bad = frame[4..].to_vec();
        bad[3] = 9;
        assert_eq!(decode(Sid(3), &bad), Ok(None));
        assert!(decode(Sid(3), &bad[..20]).is_err());
    }
}
