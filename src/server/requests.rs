//! Request handling in the core: writes are prepped over the uncommitted state and
//! proposed (see `commit.rs`), reads are answered from the committed tree once every write
//! proposed before them is committed.

use crate::jute::Jute;
use crate::pipeline::acl::generate_digest;
use crate::pipeline::pending::Pending;
use crate::pipeline::prep::{prep, PrepCtx};
use crate::pipeline::read::{self, ReadCtx, SetWatchesArgs};
use crate::proto::{
    op, xid as special_xid, CloseSessionTxn, CreateResponse, CreateSessionTxn, DeleteTxn,
    EphemeralType, ErrorCode, ErrorTxn, Id, Request, RequestError, Txn, TxnHeader,
};
use crate::server::commit::{Origin, Waiting};
use crate::server::core::Core;
use crate::server::role::{Owner, Role};
use crate::watch::ConnId;

/// Who sent a write: its session, its auth ids, and who holds the session for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) session_id: i64,
    pub(crate) ids: &'a [Id],
    pub(crate) owner: Owner,
}

/// A txn header before propose stamps its time.
fn header(session_id: i64, cxid: i32, ty: i32, zxid: i64) -> TxnHeader {
    TxnHeader {
        client_id: session_id,
        cxid,
        zxid,
        time: 0,
        r#type: ty,
    }
}

impl Core {
    /// Proposes a createSession txn for a new session (tracked from now on, as ZooKeeper's
    /// session tracker does before the txn is logged).
    pub(crate) fn create_session(&mut self, id: i64, timeout: i32, origin: Origin) {
        let now = self.now_ms();
        self.sessions.add(id, timeout, now);
        let zxid = self.next_zxid();
        let txn = Txn::CreateSession(CreateSessionTxn { time_out: timeout });
        self.propose(header(id, 0, op::CREATE_SESSION, zxid), txn, None, origin);
    }

    /// Proposes a closeSession txn deleting the session's ephemerals, those the tree has and
    /// those proposed and not yet committed (PrepRequestProcessor's closeSession). The
    /// session's connection closes when the txn is committed, after the reply to `origin`.
    pub(crate) fn close_session(&mut self, id: i64, origin: Origin) {
        self.sessions.set_closing(id);
        let zxid = self.next_zxid();
        let mut paths = self.tree.ephemerals_of(id);
        let mut changes = crate::server::commit::Changes::new();
        if !self.uncommitted.is_empty() {
            for (path, node) in self.uncommitted.iter() {
                match node {
                    None => paths.retain(|p| p != path),
                    Some(n) if n.stat.ephemeral_owner == id => {
                        if !paths.iter().any(|p| p == path) {
                            paths.push(path.to_string());
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        // Later preps must see the ephemerals gone, and their parents' pzxid moved (3.8
        // leaves the parents' child count to the commit).
        {
            let mut view = Pending::over(&self.tree, &self.uncommitted);
            for p in &paths {
                let (parent, _) = crate::tree::parent_and_name(p);
                if let Some(mut pn) = view.get(parent) {
                    pn.stat.pzxid = zxid;
                    view.put(parent, Some(pn));
                }
                view.put(p, None);
            }
            changes.extend(view.into_changes());
        }
        let cxid = match origin {
            Origin::Client { xid, .. } | Origin::Forwarded { cxid: xid } => xid,
            _ => 0,
        };
        let txn = Txn::CloseSession(Some(CloseSessionTxn {
            paths2_delete: paths,
        }));
        self.propose(
            header(id, cxid, op::CLOSE_SESSION, zxid),
            txn,
            Some(changes),
            origin,
        );
    }

    /// Handles a request from an established connection.
    pub(crate) fn request(
        &mut self,
        conn: ConnId,
        xid: i32,
        opcode: i32,
        req: Result<Request, RequestError>,
        body: bytes::Bytes,
    ) {
        let Some(sid) = self.touch(conn) else {
            return;
        };
        if self.refuse_unauthenticated(conn, xid, opcode) {
            return;
        }
        let held = crate::server::confirm::Held::new(xid, opcode, req, body);
        if let Some(h) = self.park(conn, held) {
            let (xid, opcode, req, body) = h.into_parts();
            self.dispatch(conn, sid, xid, opcode, req, body);
        }
    }

    /// A request of session `sid` goes its role's way.
    pub(crate) fn dispatch(
        &mut self,
        conn: ConnId,
        sid: i64,
        xid: i32,
        opcode: i32,
        req: Result<Request, RequestError>,
        body: bytes::Bytes,
    ) {
        match self.role {
            Role::Following(_) => {
                self.follower_request(conn, sid, xid, opcode, req, &body);
                return;
            }
            Role::ReadOnly(_) => {
                self.read_only_request(conn, sid, xid, opcode, req);
                return;
            }
            _ => {}
        }
        let req = match req {
            Ok(r) => r,
            Err(e @ RequestError::Malformed(..)) if crate::proto::is_write_op(opcode) => {
                tracing::warn!("failed to process request: {e}");
                // Answered as the error it is, whatever the opcode's reply would carry.
                let origin = Origin::Client {
                    conn,
                    xid,
                    opcode: op::ERROR,
                };
                self.malformed_write(sid, xid, origin);
                return;
            }
            Err(e) => {
                self.in_order(|core| core.bad_request(conn, xid, e));
                return;
            }
        };
        match req {
            Request::Auth(a) => self
                .in_order(|core| core.auth(conn, xid, &a.scheme, a.auth.as_deref().unwrap_or(&[]))),
            Request::CloseSession => self.close_session(sid, Origin::Client { conn, xid, opcode }),
            r if r.is_write() => self.write(conn, sid, xid, opcode, &r),
            r => self.read_in_order(conn, xid, opcode, r),
        }
    }

    /// A read (or ping, sync on a standalone or leader) waits behind every write before it.
    pub(crate) fn read_in_order(&mut self, conn: ConnId, xid: i32, opcode: i32, r: Request) {
        // Standalone keeps one global order (ZooKeeper's single pipeline); a quorum member
        // orders per session (CommitProcessor): a read of a connection with nothing waiting
        // goes now, whatever other sessions wait for.
        let per_session = matches!(
            self.role,
            Role::Leading(_) | Role::Following(_) | Role::ReadOnly(_)
        );
        if self.waiting.is_empty() || (per_session && !self.waiting.holds(conn)) {
            self.answer_read(conn, xid, opcode, r);
        } else {
            self.waiting.push(Waiting::Read {
                conn,
                xid,
                opcode,
                req: r,
            });
        }
    }

    /// FollowerRequestProcessor: writes (malformed ones too: the leader turns them into
    /// the error txn), closeSession and sync go to the leader; the rest is answered here.
    fn follower_request(
        &mut self,
        conn: ConnId,
        sid: i64,
        xid: i32,
        opcode: i32,
        req: Result<Request, RequestError>,
        body: &[u8],
    ) {
        match req {
            Ok(Request::Auth(a)) => self
                .in_order(|core| core.auth(conn, xid, &a.scheme, a.auth.as_deref().unwrap_or(&[]))),
            Ok(Request::Sync(s)) => self.forward_sync(conn, sid, xid, body, s.path),
            Ok(r) if r.is_write() || matches!(r, Request::CloseSession) => {
                self.forward(conn, sid, xid, opcode, body)
            }
            Err(RequestError::Malformed(..)) if crate::proto::is_write_op(opcode) => {
                self.forward(conn, sid, xid, opcode, body)
            }
            Err(e) => self.in_order(|core| core.bad_request(conn, xid, e)),
            Ok(r) => self.read_in_order(conn, xid, opcode, r),
        }
    }

    /// A write whose request could not be decoded still takes a zxid, logged as
    /// ErrorTxn(MARSHALLINGERROR).
    pub(crate) fn malformed_write(&mut self, sid: i64, cxid: i32, origin: Origin) {
        let err = ErrorCode::MarshallingError.code();
        let zxid = self.next_zxid();
        let txn = Txn::Error(ErrorTxn { err });
        self.propose(header(sid, cxid, op::ERROR, zxid), txn, None, origin);
    }

    pub(crate) fn bad_request(&mut self, conn: ConnId, xid: i32, e: RequestError) {
        let zxid = self.tree.last_processed_zxid;
        match e {
            RequestError::UnknownOp(o) => {
                tracing::warn!("received packet of unknown type {o}, closing the connection");
                // ZooKeeper answers from UnimplementedRequestProcessor with zxid -1.
                self.reply(conn, xid, -1, ErrorCode::Unimplemented.code(), None);
                self.close(conn);
            }
            e @ RequestError::Malformed(..) => {
                tracing::warn!("failed to process request: {e}");
                self.reply(conn, xid, zxid, ErrorCode::MarshallingError.code(), None);
            }
        }
    }

    /// Answers a read (or ping, sasl, sync) from the committed tree.
    pub(crate) fn answer_read(&mut self, conn: ConnId, xid: i32, _opcode: i32, r: Request) {
        let Some(c) = self.conns.get(&conn) else {
            // Gone while the read waited: nothing to answer, no watch to leave behind.
            return;
        };
        let (sid, ids) = (c.session_id, c.ids.clone());
        let zxid = self.tree.last_processed_zxid;
        match r {
            Request::Ping => self.reply(conn, special_xid::PING, zxid, 0, None),
            Request::Sasl(s) => self.sasl(conn, xid, s.token.as_deref()),
            r => {
                if !self.sessions.is_valid(sid) {
                    self.reply(conn, xid, zxid, ErrorCode::SessionExpired.code(), None);
                    return;
                }
                let result = self.read(conn, sid, &ids, &r);
                let zxid = self.tree.last_processed_zxid;
                match result {
                    Ok(body) => self.reply(conn, xid, zxid, 0, body.as_deref()),
                    Err(e) => self.reply(conn, xid, zxid, e.code(), None),
                }
            }
        }
    }

    pub(crate) fn auth(&mut self, conn: ConnId, xid: i32, scheme: &str, auth: &[u8]) {
        let super_digest = self.cfg.super_digest.clone();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut add = |id: Id| {
            if !c.ids.contains(&id) {
                c.ids.push(id);
            }
        };
        match scheme {
            "digest" => {
                let digest = generate_digest(&String::from_utf8_lossy(auth));
                if super_digest.as_deref() == Some(digest.as_str()) {
                    add(Id {
                        scheme: "super".into(),
                        id: String::new(),
                    });
                }
                add(Id {
                    scheme: "digest".into(),
                    id: digest,
                });
                self.reply(conn, xid, 0, 0, None);
            }
            "ip" => self.reply(conn, xid, 0, 0, None),
            // X509AuthenticationProvider.handleAuthentication looks at the connection's
            // certificate, not at the auth data: a TLS client that authenticated with one
            // succeeds again, anyone else fails like an unknown scheme.
            "x509"
                if crate::pipeline::acl::x509_registered()
                    && c.ids.iter().any(|i| i.scheme == "x509") =>
            {
                self.reply(conn, xid, 0, 0, None)
            }
            other => {
                tracing::warn!("no authentication provider for scheme {other}");
                self.reply(conn, xid, 0, ErrorCode::AuthFailed.code(), None);
                self.close(conn);
            }
        }
    }

    fn write(&mut self, conn: ConnId, sid: i64, xid: i32, opcode: i32, req: &Request) {
        let ids = self
            .conns
            .get(&conn)
            .map(|c| c.ids.clone())
            .unwrap_or_default();
        let origin = Origin::Client { conn, xid, opcode };
        let by = Caller {
            session_id: sid,
            ids: &ids,
            owner: Owner::Conn(conn),
        };
        self.write_as(&by, xid, opcode, req, origin);
    }

    /// Preps a write of `by`'s session with its auth ids and proposes its txn.
    pub(crate) fn write_as(
        &mut self,
        by: &Caller<'_>,
        xid: i32,
        opcode: i32,
        req: &Request,
        origin: Origin,
    ) {
        let Caller {
            session_id: sid,
            ids,
            owner,
        } = *by;
        let zxid = self.next_zxid();
        let (prepped, changes) = if self.session_moved(sid, owner) {
            // SessionTrackerImpl.checkSession: another server (or connection) holds the
            // session now.
            (Err(ErrorCode::SessionMoved), Default::default())
        } else {
            let ctx = PrepCtx {
                session_id: sid,
                session_valid: self.sessions.is_valid(sid),
                ids,
                zxid,
                extended_types: self.cfg.extended_types_enabled,
                reconfig_enabled: self.cfg.reconfig_enabled,
                quorum: self.reconfig.as_ref(),
            };
            let mut view = Pending::over(&self.tree, &self.uncommitted);
            let prepped = prep(req, &ctx, &mut view);
            (prepped, view.into_changes())
        };
        if let (Ok(Txn::Reconfig(_)), Some(q)) = (&prepped, self.reconfig.as_mut()) {
            // Leader.propose sets the last-seen config: a reconfig after this one, even
            // in the same turn, finds one in progress.
            q.last_seen_version = zxid;
        }
        // Only a txn that prepared cleanly leaves changes for later preps to see; a failed
        // multi's earlier ops are rolled back (their txns become ErrorTxn(0) at apply).
        let (ty, txn, changes) = match prepped {
            Ok(Txn::Multi(subs)) if subs.iter().any(|t| matches!(t, Txn::Error(_))) => {
                (opcode, Txn::Multi(subs), None)
            }
            Ok(t) => (opcode, t, Some(changes)),
            Err(e) => (op::ERROR, Txn::Error(ErrorTxn { err: e.code() }), None),
        };
        self.propose(header(sid, xid, ty, zxid), txn, changes, origin);
    }

    fn read(&mut self, conn: ConnId, sid: i64, ids: &[Id], r: &Request) -> read::ReadResult {
        let c = ReadCtx {
            conn,
            session_id: sid,
            ids,
        };
        let (t, w) = (&self.tree, &mut self.watches);
        match r {
            Request::Exists(x) => read::exists(t, w, x, &c),
            Request::GetData(x) => read::get_data_reply(t, w, x, &c),
            Request::GetChildren(x) => read::get_children_reply(t, w, x, &c, false),
            Request::GetChildren2(x) => read::get_children_reply(t, w, x, &c, true),
            Request::GetAcl(x) => read::get_acl(t, &x.path, &c),
            Request::GetAllChildrenNumber(x) => read::all_children_number(t, &x.path, &c),
            Request::GetEphemerals(x) => read::ephemerals(t, &x.path, &c),
            Request::WhoAmI => read::who_am_i(&c),
            Request::Sync(x) => Ok(Some(
                CreateResponse {
                    path: x.path.clone(),
                }
                .to_bytes(),
            )),
            Request::CheckWatches(x) => read::watches(w, &x.path, x.r#type, false, conn),
            Request::RemoveWatches(x) => read::watches(w, &x.path, x.r#type, true, conn),
            Request::AddWatch(x) => read::add_watch(w, &x.path, x.mode, conn),
            Request::MultiRead(m) => read::multi_read(t, w, m, &c),
            Request::SetWatches(s) => {
                let args = SetWatchesArgs {
                    relative_zxid: s.relative_zxid,
                    data: &s.data_watches,
                    exist: &s.exist_watches,
                    child: &s.child_watches,
                    persistent: &[],
                    recursive: &[],
                };
                let n = read::set_watches(t, w, &args, conn);
                self.notify(n);
                Ok(None)
            }
            Request::SetWatches2(s) => {
                let args = SetWatchesArgs {
                    relative_zxid: s.relative_zxid,
                    data: &s.data_watches,
                    exist: &s.exist_watches,
                    child: &s.child_watches,
                    persistent: &s.persistent_watches,
                    recursive: &s.persistent_recursive_watches,
                };
                let n = read::set_watches(t, w, &args, conn);
                self.notify(n);
                Ok(None)
            }
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// The container and TTL reaper (ContainerManager): deletes empty containers that had
    /// children, and TTL nodes not modified for their TTL, through deleteContainer txns.
    pub fn reap_containers(&mut self) {
        // ContainerManager runs on the leader (or a standalone server) only.
        if !self.expires_sessions() {
            return;
        }
        let now = self.now.wall_ms;
        let never_used = self.cfg.container_max_never_used_interval_ms as i64;
        let mut candidates = Vec::new();
        for p in self.tree.containers() {
            if self.uncommitted.get(p).is_some() {
                // A proposed change of the node: look again once it is committed.
                continue;
            }
            if let Some(n) = self.tree.get(p) {
                let elapsed = now - n.mtime();
                if n.num_children() == 0
                    && (n.cversion() > 0 || (never_used != 0 && elapsed > never_used))
                {
                    candidates.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls() {
            if self.uncommitted.get(p).is_some() {
                continue;
            }
            if let Some(n) = self.tree.get(p) {
                if let EphemeralType::Ttl(ttl) = EphemeralType::of(n.ephemeral_owner(), true) {
                    if n.num_children() == 0 && ttl != 0 && now - n.mtime() > ttl {
                        candidates.push(p.clone());
                    }
                }
            }
        }
        let limit = self.cfg.container_max_per_minute.max(1) as usize;
        for path in candidates.into_iter().take(limit) {
            let zxid = self.next_zxid();
            // An uncommitted child (or delete) shows in the view prep sees.
            let (ok, changes) = {
                let mut view = Pending::over(&self.tree, &self.uncommitted);
                let ok = view.get(&path).is_some_and(|n| n.num_children == 0);
                if ok {
                    let (parent, _) = crate::tree::parent_and_name(&path);
                    if let Some(mut pn) = view.get(parent) {
                        pn.num_children = pn.num_children.saturating_sub(1);
                        view.put(parent, Some(pn));
                    }
                    view.put(&path, None);
                }
                (ok, view.into_changes())
            };
            let (ty, txn, changes) = if ok {
                (
                    op::DELETE_CONTAINER,
                    Txn::Delete(op::DELETE_CONTAINER, DeleteTxn { path }),
                    Some(changes),
                )
            } else {
                (
                    op::ERROR,
                    Txn::Error(ErrorTxn {
                        err: ErrorCode::NotEmpty.code(),
                    }),
                    None,
                )
            };
            self.propose(header(0, 0, ty, zxid), txn, changes, Origin::Internal);
        }
    }
}
