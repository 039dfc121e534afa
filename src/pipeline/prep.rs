//! Prep: checks a write against the uncommitted view, in ZooKeeper's order of checks, and
//! turns it into the txn record ZooKeeper would log (PrepRequestProcessor). A failed check
//! becomes an ErrorTxn in the caller, so failed writes still take a zxid.

use crate::pipeline::acl;
use crate::pipeline::pending::{Pending, PendingNode};
use crate::proto::{
    op, perms, Acl, CheckVersionRequest, CheckVersionTxn, CloseSessionTxn, CreateContainerTxn,
    CreateMode, CreateRequest, CreateTtlRequest, CreateTtlTxn, CreateTxn, DeleteRequest, DeleteTxn,
    EphemeralType, ErrorCode, ErrorTxn, Id, MultiOp, MultiRequest, Request, SetAclRequest,
    SetAclTxn, SetDataRequest, SetDataTxn, StatPersisted, Txn, MAX_TTL_MS,
};
use crate::tree::{parent_and_name, validate_path, CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};

/// Who is asking, and the zxid the txn will carry.
pub struct PrepCtx<'a> {
    /// The caller's session.
    pub session_id: i64,
    /// Whether that session is alive (checkSession).
    pub session_valid: bool,
    /// The caller's identities (ip, digest, super).
    pub ids: &'a [Id],
    /// The zxid given to this txn.
    pub zxid: i64,
    /// zookeeper.extendedTypesEnabled.
    pub extended_types: bool,
    /// reconfigEnabled.
    pub reconfig_enabled: bool,
    /// The quorum, on a leader: what a reconfig is prepared against.
    pub(crate) quorum: Option<&'a crate::pipeline::reconfig::ReconfigCtx>,
}

impl PrepCtx<'_> {
    fn check_session(&self) -> Result<(), ErrorCode> {
        if self.session_valid {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn is_special(path: &str) -> bool {
    matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
}

fn valid_path(path: &str) -> Result<(), ErrorCode> {
    validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

/// Prepares a write request (not multi's sub-ops; see [`prep_multi`]).
pub fn prep(req: &Request, ctx: &PrepCtx<'_>, view: &mut Pending<'_>) -> Result<Txn, ErrorCode> {
    match req {
        Request::Create(ty, c) => prep_create(*ty, c, -1, ctx, view),
        Request::CreateTtl(c) => prep_create_ttl(c, ctx, view),
        Request::Delete(d) => prep_delete(d, ctx, view),
        Request::SetData(s) => prep_set_data(s, ctx, view),
        Request::SetAcl(s) => prep_set_acl(s, ctx, view),
        Request::Check(c) => prep_check(c, ctx, view),
        Request::Reconfig(r) => {
            if !ctx.reconfig_enabled {
                return Err(ErrorCode::ReconfigDisabled);
            }
            if ctx.quorum.is_some_and(|q| q.skip_acl) {
                tracing::warn!("skipACL is set, reconfig operation will skip ACL checks!");
            }
            ctx.check_session()?;
            // Standalone (no quorum) cannot reconfigure: UNIMPLEMENTED.
            crate::pipeline::reconfig::prep_reconfig(r, ctx.quorum, ctx.ids, ctx.zxid, view)
        }
        Request::CloseSession => Ok(Txn::CloseSession(Some(CloseSessionTxn {
            paths2_delete: Vec::new(),
        }))),
        Request::Multi(m) => Ok(prep_multi(m, ctx, view)),
        _ => Err(ErrorCode::Unimplemented),
    }
}

/// Prepares a multi: one zxid for all ops; after the first failure every later op becomes
/// ErrorTxn(RUNTIMEINCONSISTENCY) without checks, and the failing op ErrorTxn(its code).
pub fn prep_multi(m: &MultiRequest, ctx: &PrepCtx<'_>, view: &mut Pending<'_>) -> Txn {
    let mut txns = Vec::with_capacity(m.ops.len());
    let mut failed = false;
    for o in &m.ops {
        if failed {
            txns.push(Txn::Error(ErrorTxn {
                err: ErrorCode::RuntimeInconsistency.code(),
            }));
            continue;
        }
        let r = match o {
            // ZooKeeper rebuilds a create sub-op from its flags alone (`Op.create`): the
            // header's create, create2 or createContainer is not kept.
            MultiOp::Create(_, c) => prep_create(multi_create_type(c.flags), c, -1, ctx, view),
            MultiOp::CreateTtl(c) => prep_multi_create_ttl(c, ctx, view),
            MultiOp::Delete(d) => prep_delete(d, ctx, view),
            MultiOp::SetData(s) => prep_set_data(s, ctx, view),
            MultiOp::Check(c) => prep_check(c, ctx, view),
            // Reads in a write multi: ZooKeeper refuses the whole record while decoding.
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(ErrorCode::MarshallingError),
        };
        match r {
            Ok(t) => txns.push(t),
            Err(e) => {
                failed = true;
                txns.push(Txn::Error(ErrorTxn { err: e.code() }));
            }
        }
    }
    Txn::Multi(txns)
}

fn prep_create_ttl(
    c: &CreateTtlRequest,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    let cr = CreateRequest {
        path: c.path.clone(),
        data: c.data.clone(),
        acl: c.acl.clone(),
        flags: c.flags,
    };
    prep_create(op::CREATE_TTL, &cr, c.ttl, ctx, view)
}

/// A createTTL sub-op of a multi. ZooKeeper rebuilds each sub-op with `Op.create(path,
/// data, acl, flags, ttl)`, which keeps a createTTL only for a TTL mode: any other mode
/// becomes a plain create (a createContainer for the container mode) with its ttl dropped,
/// checked and failing as that create would.
fn prep_multi_create_ttl(
    c: &CreateTtlRequest,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    let mode = CreateMode::from_flag(c.flags);
    if mode.is_some_and(CreateMode::is_ttl) {
        return prep_create_ttl(c, ctx, view);
    }
    let ty = multi_create_type(c.flags);
    let cr = CreateRequest {
        path: c.path.clone(),
        data: c.data.clone(),
        acl: c.acl.clone(),
        flags: c.flags,
    };
    prep_create(ty, &cr, -1, ctx, view)
}

/// The type `Op.create` gives a create sub-op with these flags (other than TTL ones).
fn multi_create_type(flags: i32) -> i32 {
    if CreateMode::from_flag(flags) == Some(CreateMode::Container) {
        op::CREATE_CONTAINER
    } else {
        op::CREATE
    }
}

fn prep_create(
    ty: i32,
    c: &CreateRequest,
    ttl: i64,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    let mode = CreateMode::from_flag(c.flags).ok_or(ErrorCode::BadArguments)?;
    if mode.is_ttl() && !ctx.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        if ttl <= 0 || ttl > MAX_TTL_MS {
            return Err(ErrorCode::BadArguments);
        }
    } else if ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    ctx.check_session()?;
    let path = c.path.as_str();
    let slash = path.rfind('/');
    if slash.is_none() || path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let acl = acl::fixup(&c.acl, ctx.ids)?;
    let parent_path = match slash {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => return Err(ErrorCode::BadArguments),
    };
    let mut parent = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
    acl::check(&parent.acl, perms::CREATE, ctx.ids)?;
    let parent_cversion = parent.stat.cversion;
    let full = if mode.is_sequential() {
        format!("{path}{parent_cversion:010}")
    } else {
        path.to_string()
    };
    valid_path(&full)?;
    if view.get(&full).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if EphemeralType::of(parent.stat.ephemeral_owner, view.extended_types())
        == EphemeralType::Normal
    {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let new_cversion = parent_cversion.wrapping_add(1);
    let (txn, owner) = match ty {
        op::CREATE_CONTAINER => (
            Txn::CreateContainer(CreateContainerTxn {
                path: full.clone(),
                data: c.data.clone(),
                acl: acl.clone(),
                parent_cversion: new_cversion,
            }),
            crate::proto::CONTAINER_EPHEMERAL_OWNER,
        ),
        op::CREATE_TTL => (
            Txn::CreateTtl(CreateTtlTxn {
                path: full.clone(),
                data: c.data.clone(),
                acl: acl.clone(),
                parent_cversion: new_cversion,
                ttl,
            }),
            crate::proto::TTL_OWNER_MASK | ttl,
        ),
        _ => (
            Txn::Create(
                ty,
                CreateTxn {
                    path: full.clone(),
                    data: c.data.clone(),
                    acl: acl.clone(),
                    ephemeral: mode.is_ephemeral(),
                    parent_cversion: new_cversion,
                },
            ),
            if mode.is_ephemeral() {
                ctx.session_id
            } else {
                0
            },
        ),
    };
    parent.stat.cversion = new_cversion;
    parent.stat.pzxid = ctx.zxid;
    parent.num_children += 1;
    view.put(parent_path, Some(parent));
    view.put(
        &full,
        Some(PendingNode {
            stat: StatPersisted {
                czxid: ctx.zxid,
                mzxid: ctx.zxid,
                pzxid: ctx.zxid,
                ephemeral_owner: owner,
                ..Default::default()
            },
            acl: acl.into(),
            num_children: 0,
        }),
    );
    Ok(txn)
}

fn prep_delete(
    d: &DeleteRequest,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    ctx.check_session()?;
    let path = d.path.as_str();
    if !path.contains('/') || path.contains('\0') || is_special(path) {
        return Err(ErrorCode::BadArguments);
    }
    let (parent_path, _) = parent_and_name(path);
    let mut parent = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
    acl::check(&parent.acl, perms::DELETE, ctx.ids)?;
    let node = view.get(path).ok_or(ErrorCode::NoNode)?;
    check_version(node.stat.version, d.version)?;
    if node.num_children > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    parent.num_children = parent.num_children.saturating_sub(1);
    view.put(parent_path, Some(parent));
    view.put(path, None);
    Ok(Txn::Delete(
        op::DELETE,
        DeleteTxn {
            path: path.to_string(),
        },
    ))
}

fn prep_set_data(
    s: &SetDataRequest,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    ctx.check_session()?;
    valid_path(&s.path)?;
    let mut node = view.get(&s.path).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::WRITE, ctx.ids)?;
    let version = check_version(node.stat.version, s.version)?;
    node.stat.version = version;
    node.stat.mzxid = ctx.zxid;
    view.put(&s.path, Some(node));
    Ok(Txn::SetData(SetDataTxn {
        path: s.path.clone(),
        data: s.data.clone(),
        version,
    }))
}

fn prep_set_acl(
    s: &SetAclRequest,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    ctx.check_session()?;
    valid_path(&s.path)?;
    let acl: Vec<Acl> = acl::fixup(&s.acl, ctx.ids)?;
    let mut node = view.get(&s.path).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::ADMIN, ctx.ids)?;
    let version = check_version(node.stat.aversion, s.version)?;
    node.stat.aversion = version;
    node.acl = acl.clone().into();
    view.put(&s.path, Some(node));
    Ok(Txn::SetAcl(SetAclTxn {
        path: s.path.clone(),
        acl,
        version,
    }))
}

fn prep_check(
    c: &CheckVersionRequest,
    ctx: &PrepCtx<'_>,
    view: &mut Pending<'_>,
) -> Result<Txn, ErrorCode> {
    ctx.check_session()?;
    valid_path(&c.path)?;
    let node = view.get(&c.path).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::READ, ctx.ids)?;
    let version = check_version(node.stat.version, c.version)?;
    Ok(Txn::Check(CheckVersionTxn {
        path: c.path.clone(),
        version,
    }))
}
