//! Apply: the one deterministic step that changes the DataTree (DataTree.processTxn).
//! Live writes, log replay and (later) followers all go through it.

use crate::proto::{
    op, ErrorCode, ErrorTxn, Stat, Txn, TxnHeader, CONTAINER_EPHEMERAL_OWNER, TTL_OWNER_MASK,
};
use crate::tree::{DataTree, Trigger};

/// What applying one (sub-)txn did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// The txn type as applied (-1 for errors).
    pub op_type: i32,
    /// The error code (0 on success).
    pub err: i32,
    /// The path it touched.
    pub path: String,
    /// The node's stat after a create, setData or setACL.
    pub stat: Option<Stat>,
}

/// The outcome of applying a whole txn.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// One result for a plain txn, one per sub-txn for a multi.
    pub results: Vec<OpResult>,
    /// Watch triggers, in the order ZooKeeper fires them.
    pub triggers: Vec<Trigger>,
    /// A createSession txn: (session id, timeout).
    pub session_created: Option<(i64, i32)>,
    /// A closeSession txn: the session id.
    pub session_closed: Option<i64>,
}

/// Applies a txn to the tree.
pub fn apply(tree: &mut DataTree, hdr: &TxnHeader, txn: &Txn) -> Applied {
    let mut out = Applied::default();
    match txn {
        Txn::Multi(subs) => {
            let failed = subs.iter().any(|t| matches!(t, Txn::Error(_)));
            for sub in subs {
                // In a failed multi the real sub-txns before the failure are not applied:
                // they become ErrorTxn(0), the rest stay as prep left them.
                let neutral;
                let sub = if failed && !matches!(sub, Txn::Error(_)) {
                    neutral = Txn::Error(ErrorTxn { err: 0 });
                    &neutral
                } else {
                    sub
                };
                let r = apply_one(tree, hdr, sub, &mut out);
                out.results.push(r);
            }
        }
        _ => {
            let r = apply_one(tree, hdr, txn, &mut out);
            out.results.push(r);
        }
    }
    // After the whole txn, as DataTree.processTxn: the zxid, and the digest log.
    tree.txn_applied(hdr.zxid);
    out
}

fn result(op_type: i32, r: Result<(), ErrorCode>, path: &str, stat: Option<Stat>) -> OpResult {
    match r {
        Ok(()) => OpResult {
            op_type,
            err: 0,
            path: path.to_string(),
            stat,
        },
        Err(e) => OpResult {
            op_type: op::ERROR,
            err: e.code(),
            path: path.to_string(),
            stat: None,
        },
    }
}

fn apply_one(tree: &mut DataTree, hdr: &TxnHeader, txn: &Txn, out: &mut Applied) -> OpResult {
    let (zxid, time) = (hdr.zxid, hdr.time);
    let ty = txn.op_type();
    let mut created = |tree: &mut DataTree, path: &str, data, acl, owner, pcv| {
        let r = tree
            .create(path, data, acl, owner, pcv, zxid, time)
            .map(|t| out.triggers.push(t));
        let stat = tree.stat(path);
        result(ty, r, path, stat)
    };
    match txn {
        Txn::Create(_, c) => {
            let owner = if c.ephemeral { hdr.client_id } else { 0 };
            created(
                tree,
                &c.path,
                c.data.clone(),
                c.acl.clone(),
                owner,
                c.parent_cversion,
            )
        }
        Txn::CreateContainer(c) => created(
            tree,
            &c.path,
            c.data.clone(),
            c.acl.clone(),
            CONTAINER_EPHEMERAL_OWNER,
            c.parent_cversion,
        ),
        Txn::CreateTtl(c) => created(
            tree,
            &c.path,
            c.data.clone(),
            c.acl.clone(),
            TTL_OWNER_MASK | c.ttl,
            c.parent_cversion,
        ),
        Txn::Delete(_, d) => {
            let r = tree.delete(&d.path, zxid).map(|t| out.triggers.push(t));
            result(ty, r, &d.path, None)
        }
        // DataTree.processTxn: a reconfig sets /zookeeper/config like a setData.
        Txn::SetData(s) | Txn::Reconfig(s) => {
            let r = tree
                .set_data(&s.path, s.data.clone(), s.version, zxid, time)
                .map(|t| out.triggers.push(t));
            let stat = tree.stat(&s.path);
            result(ty, r, &s.path, stat)
        }
        Txn::SetAcl(s) => {
            let r = tree.set_acl(&s.path, s.acl.clone(), s.version);
            let stat = tree.stat(&s.path);
            result(ty, r, &s.path, stat)
        }
        Txn::Check(c) => result(ty, Ok(()), &c.path, None),
        Txn::CreateSession(c) => {
            out.session_created = Some((hdr.client_id, c.time_out));
            result(ty, Ok(()), "", None)
        }
        Txn::CloseSession(c) => {
            // The txn lists the ephemerals; an old body-less txn means "the tree's list".
            let paths = match c {
                Some(c) => c.paths2_delete.clone(),
                None => tree.ephemerals_of(hdr.client_id),
            };
            for p in paths {
                if let Ok(t) = tree.delete(&p, zxid) {
                    out.triggers.push(t);
                }
            }
            out.session_closed = Some(hdr.client_id);
            result(ty, Ok(()), "", None)
        }
        Txn::Error(e) => OpResult {
            op_type: op::ERROR,
            err: e.err,
            path: String::new(),
            stat: None,
        },
        Txn::Multi(_) => result(ty, Err(ErrorCode::Unimplemented), "", None),
    }
}
