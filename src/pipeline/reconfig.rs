//! Prep of the reconfig op (16) on a leader, in PrepRequestProcessor's order of checks:
//! the new config is computed from the last-seen one (incremental `joining`/`leaving`, or
//! the whole `newMembers`), versioned with the txn's zxid, and logged as a SetDataTxn of
//! `/zookeeper/config`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::dynamic::QuorumText;
use crate::config::server_line;
use crate::config::ServerSpec;
use crate::pipeline::acl;
use crate::pipeline::pending::Pending;
use crate::proto::{perms, ErrorCode, ReconfigRequest, SetDataTxn, Txn};
use crate::tree::CONFIG_PATH;

/// What a leader's prep needs to know of the quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReconfigCtx {
    /// The committed config (QuorumPeer.getQuorumVerifier).
    pub(crate) current: QuorumText,
    /// The last-seen config's version: above `current`'s while a reconfig is pending.
    pub(crate) last_seen_version: i64,
    /// The leader and the followers synced with it (Leader.isQuorumSynced's candidates).
    pub(crate) synced: BTreeSet<u64>,
    /// standaloneEnabled: a new config needs 2 voters with it, else 1.
    pub(crate) standalone_enabled: bool,
    /// zookeeper.skipACL: the config node's ACL is not checked.
    pub(crate) skip_acl: bool,
}

/// PrepRequestProcessor's `case OpCode.reconfig`, after the session check. `quorum` is
/// `None` when this server is no leader (standalone: UNIMPLEMENTED).
pub(crate) fn prep_reconfig(
    r: &ReconfigRequest,
    quorum: Option<&ReconfigCtx>,
    ids: &[crate::proto::Id],
    zxid: i64,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    let q = quorum.ok_or(ErrorCode::Unimplemented)?;
    if q.last_seen_version != q.current.version {
        return Err(ErrorCode::ReconfigInProgress);
    }
    if r.cur_config_id != -1 && r.cur_config_id != q.last_seen_version {
        return Err(ErrorCode::BadVersion);
    }
    let mut next = if !r.new_members.is_empty() {
        non_incremental(&r.new_members)?
    } else {
        incremental(&q.current.servers, &r.joining_servers, &r.leaving_servers)?
    };
    next.version = zxid;
    let voters = next.voters().count();
    if (q.standalone_enabled && voters < 2) || voters < 1 {
        return Err(ErrorCode::BadArguments);
    }
    let synced: BTreeSet<u64> = next.voters().filter(|s| q.synced.contains(s)).collect();
    if synced.len() <= voters / 2 {
        return Err(ErrorCode::NewConfigNoQuorum);
    }
    let mut node = view.get(CONFIG_PATH).ok_or(ErrorCode::NoNode)?;
    if !q.skip_acl {
        acl::check(&node.acl, perms::WRITE, ids)?;
    }
    let data = next.to_text().into_bytes();
    node.stat.version = -1;
    node.stat.mzxid = zxid;
    view.put(CONFIG_PATH, Some(node));
    Ok(Txn::Reconfig(SetDataTxn {
        path: CONFIG_PATH.to_string(),
        data: Some(data),
        version: -1,
    }))
}

/// `newMembers`: server lines separated by commas or newlines, as a properties text.
fn non_incremental(members: &str) -> Result<QuorumText, ErrorCode> {
    let text = members.replace(',', "\n");
    let mut servers = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once('=').ok_or(ErrorCode::BadArguments)?;
        let n = key
            .trim()
            .strip_prefix("server.")
            .ok_or(ErrorCode::BadArguments)?;
        let sid = server_line::parse_sid(n).map_err(|_| ErrorCode::BadArguments)?;
        let spec = server_line::parse(sid, value.trim()).map_err(|_| ErrorCode::BadArguments)?;
        servers.insert(sid, spec);
    }
    Ok(QuorumText {
        servers,
        version: 0,
    })
}

/// `joiningServers` (`server.N=spec;client`, comma-separated) and `leavingServers` (sids)
/// applied to the last-seen members.
fn incremental(
    current: &BTreeMap<u64, ServerSpec>,
    joining: &str,
    leaving: &str,
) -> Result<QuorumText, ErrorCode> {
    let mut servers = current.clone();
    for sid in leaving.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let sid: u64 = sid.parse().map_err(|_| ErrorCode::BadArguments)?;
        servers.remove(&sid);
    }
    for joiner in joining.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = joiner.split('=').collect();
        let [key, spec] = parts.as_slice() else {
            return Err(ErrorCode::BadArguments);
        };
        let n = key.rsplit('.').next().unwrap_or_default().trim();
        let sid = server_line::parse_sid(n).map_err(|_| ErrorCode::BadArguments)?;
        let spec = server_line::parse(sid, spec.trim()).map_err(|_| ErrorCode::BadArguments)?;
        if spec.client_addr.is_none() {
            // "each server should have 3 ports specified"
            return Err(ErrorCode::BadArguments);
        }
        if servers
            .values()
            .any(|other| other.sid != sid && shares_an_address(&spec, other))
        {
            return Err(ErrorCode::BadArguments);
        }
        servers.insert(sid, spec);
    }
    Ok(QuorumText {
        servers,
        version: 0,
    })
}

/// QuorumServer.checkAddressDuplicate: two servers may not share a quorum or election
/// address.
fn shares_an_address(a: &ServerSpec, b: &ServerSpec) -> bool {
    let mine = [(&a.host, a.quorum_port), (&a.host, a.election_port)];
    let theirs = [(&b.host, b.quorum_port), (&b.host, b.election_port)];
    mine.iter().any(|m| theirs.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::DataTree;

    fn ctx() -> ReconfigCtx {
        let current = QuorumText::parse(
            "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n\
             server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n\
             server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\n\
             version=100000000",
        )
        .expect("config");
        ReconfigCtx {
            current,
            last_seen_version: 0x1_0000_0000,
            synced: [1, 2, 3, 4].into_iter().collect(),
            standalone_enabled: true,
            skip_acl: true,
        }
    }

    fn req(joining: &str, leaving: &str, members: &str, from: i64) -> ReconfigRequest {
        ReconfigRequest {
            joining_servers: joining.into(),
            leaving_servers: leaving.into(),
            new_members: members.into(),
            cur_config_id: from,
        }
    }

    fn run(r: &ReconfigRequest, q: &ReconfigCtx) -> Result<QuorumText, ErrorCode> {
        let tree = DataTree::new(false);
        let uncommitted = Default::default();
        let mut view = Pending::over(&tree, &uncommitted);
        match prep_reconfig(r, Some(q), &[], 0x1_0000_0005, &mut view)? {
            Txn::Reconfig(t) => {
                let text = String::from_utf8(t.data.unwrap_or_default()).expect("utf8");
                Ok(QuorumText::parse(&text).expect("parses"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incremental_add_and_remove() {
        let q = ctx();
        let r = req(
            "server.4=127.0.0.1:2004:3004:participant;127.0.0.1:4004",
            "1",
            "",
            -1,
        );
        let next = run(&r, &q).expect("ok");
        assert_eq!(next.voters().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(next.version, 0x1_0000_0005);
    }

    #[test]
    fn non_incremental_replaces_the_members() {
        let q = ctx();
        let members = "server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002,\
                       server.4=127.0.0.1:2004:3004:participant;127.0.0.1:4004";
        let next = run(&req("", "", members, 0x1_0000_0000), &q).expect("ok");
        assert_eq!(next.voters().collect::<Vec<_>>(), vec![2, 4]);
    }

    #[test]
    fn errors_in_zookeepers_order() {
        let q = ctx();
        let mut pending = q.clone();
        pending.last_seen_version += 1;
        assert_eq!(
            run(&req("", "1", "", -1), &pending),
            Err(ErrorCode::ReconfigInProgress)
        );
        assert_eq!(run(&req("", "1", "", 7), &q), Err(ErrorCode::BadVersion));
        assert_eq!(
            run(&req("", "1,2,3", "", -1), &q),
            Err(ErrorCode::BadArguments)
        );
        assert_eq!(
            run(&req("server.4=127.0.0.1:2004:3004", "", "", -1), &q),
            Err(ErrorCode::BadArguments),
            "no client port"
        );
        assert_eq!(
            run(&req("server.4=127.0.0.1:2001:3004;4004", "", "", -1), &q),
            Err(ErrorCode::BadArguments),
            "a quorum address already used"
        );
        let members = "server.5=127.0.0.1:2005:3005:participant;4005,\
                       server.6=127.0.0.1:2006:3006:participant;4006";
        assert_eq!(
            run(&req("", "", members, -1), &q),
            Err(ErrorCode::NewConfigNoQuorum)
        );
        let mut strict = q.clone();
        strict.skip_acl = false;
        assert_eq!(
            run(&req("", "1", "", -1), &strict),
            Err(ErrorCode::NoAuth),
            "the config node is read-only without super"
        );
        // Leaving a server that is not a member still makes a new config.
        assert!(run(&req("", "9", "", -1), &q).is_ok());
    }
}
