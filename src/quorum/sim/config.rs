//! A simulated server's quorum config: its voters, observers and version, carried as the
//! real `QuorumText` (what reconfig txns, NEWLEADER and COMMITANDACTIVATE's pending config
//! hold), so the text the machines pass around is parsed the way the peer parses it.

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::config::dynamic::QuorumText;
use crate::proto::codes::op;
use crate::proto::txn::{SetDataTxn, Txn, TxnEntry, TxnHeader};
use crate::quorum::{Majority, Sid, Zxid};

/// One quorum config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// QuorumVerifier.getVersion: 0 for the static config, then the zxid of the reconfig
    /// (or `makeZxid(epoch, 0)` for the one the first NEWLEADER stamps).
    pub(crate) version: i64,
    pub(crate) voters: BTreeSet<Sid>,
    pub(crate) observers: BTreeSet<Sid>,
}

impl View {
    /// The quorum verifier the machines count with.
    pub(crate) fn qv(&self) -> Majority {
        Majority::new(self.voters.iter().copied(), self.observers.iter().copied())
    }

    /// The member lines (`server.N=...`), as `LeaderStart::config_members` has them.
    pub(crate) fn member_lines(&self) -> String {
        let mut out = String::new();
        let members = (self.voters.iter().map(|s| (s, "participant")))
            .chain(self.observers.iter().map(|s| (s, "observer")));
        let mut lines: Vec<_> = members.collect();
        lines.sort();
        for (s, kind) in lines {
            out.push_str(&format!(
                "server.{0}=127.0.0.{0}:2888:3888:{kind};127.0.0.{0}:2181\n",
                s.0
            ));
        }
        out
    }

    /// QuorumMaj.toString.
    pub(crate) fn text(&self) -> String {
        format!("{}version={:x}", self.member_lines(), self.version)
    }

    /// A config as the machines hand it over; `None` if it does not parse (the peer logs
    /// and ignores it; the invariants flag it, as nothing in the sim sends a bad one).
    pub(crate) fn parse(bytes: &[u8]) -> Option<View> {
        let q = QuorumText::parse(std::str::from_utf8(bytes).ok()?).ok()?;
        let (obs, voters): (Vec<_>, Vec<_>) = q.servers.values().partition(|s| s.observer);
        Some(View {
            version: q.version,
            voters: voters.iter().map(|s| Sid(s.sid)).collect(),
            observers: obs.iter().map(|s| Sid(s.sid)).collect(),
        })
    }

    /// The reconfig txn at `zxid` proposing this config (whose version is `zxid`).
    pub(crate) fn txn(&self, zxid: Zxid) -> Bytes {
        TxnEntry {
            header: TxnHeader {
                client_id: 0x0200_0000_0000_0000 + zxid.0,
                cxid: 0,
                zxid: zxid.0,
                time: 1_700_000_000_000,
                r#type: op::RECONFIG,
            },
            txn: Txn::Reconfig(SetDataTxn {
                path: "/zookeeper/config".into(),
                data: Some(self.text().into_bytes()),
                version: -1,
            }),
            digest: None,
        }
        .to_bytes()
        .freeze()
    }
}
