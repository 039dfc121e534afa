//! Request handling in the core: writes go prep -> log -> apply -> reply, reads are answered
//! from the applied tree, in the order they arrived.

use bytes::BytesMut;

use crate::jute::Jute;
use crate::pipeline::acl::generate_digest;
use crate::pipeline::apply::{apply, Applied};
use crate::pipeline::pending::Pending;
use crate::pipeline::prep::{prep, PrepCtx};
use crate::pipeline::read::{self, ReadCtx, SetWatchesArgs};
use crate::proto::{
    op, xid as special_xid, CloseSessionTxn, Create2Response, CreateResponse, CreateSessionTxn,
    DeleteTxn, EphemeralType, ErrorCode, ErrorTxn, Id, MultiResponse, MultiResult, Request,
    RequestError, StatResponse, Txn, TxnEntry, TxnHeader,
};
use crate::server::core::{wall_ms, Core};
use crate::watch::ConnId;

impl Core {
    /// Runs a txn through log and apply, fires its watches, and returns what it did.
    fn commit(&mut self, session_id: i64, cxid: i32, ty: i32, txn: Txn, zxid: i64) -> Applied {
        let entry = TxnEntry {
            header: TxnHeader {
                client_id: session_id,
                cxid,
                zxid,
                time: wall_ms(),
                r#type: ty,
            },
            txn,
            digest: None,
        };
        self.log_txn(zxid, &entry.to_bytes());
        let applied = apply(&mut self.tree, &entry.header, &entry.txn);
        for t in &applied.triggers {
            let n = self.watches.trigger(t);
            self.notify(n);
        }
        if let Some((id, timeout)) = applied.session_created {
            let now = self.now_ms();
            self.sessions.add(id, timeout, now);
        }
        if let Some(id) = applied.session_closed {
            self.sessions.remove(id);
        }
        applied
    }

    /// A createSession txn for a new session.
    pub(crate) fn create_session(&mut self, id: i64, timeout: i32) {
        let zxid = self.next_zxid();
        let txn = Txn::CreateSession(CreateSessionTxn { time_out: timeout });
        self.commit(id, 0, op::CREATE_SESSION, txn, zxid);
    }

    /// A closeSession txn: deletes the session's ephemerals. With a connection, the reply
    /// goes out and the connection closes after it.
    pub(crate) fn close_session(&mut self, id: i64, xid: i32, conn: Option<ConnId>) {
        self.sessions.set_closing(id);
        let zxid = self.next_zxid();
        let paths = self.tree.ephemerals_of(id);
        let txn = Txn::CloseSession(Some(CloseSessionTxn {
            paths2_delete: paths,
        }));
        self.commit(id, xid, op::CLOSE_SESSION, txn, zxid);
        if let Some(conn) = conn {
            self.reply(conn, xid, zxid, 0, None);
            self.close(conn);
            self.session_conn.remove(&id);
        }
    }

    /// Handles a request from an established connection.
    pub(crate) fn request(
        &mut self,
        conn: ConnId,
        xid: i32,
        opcode: i32,
        req: Result<Request, RequestError>,
    ) {
        let Some(sid) = self.touch(conn) else {
            return;
        };
        let zxid = self.tree.last_processed_zxid;
        let req = match req {
            Ok(r) => r,
            Err(RequestError::UnknownOp(o)) => {
                tracing::warn!("received packet of unknown type {o}, closing the connection");
                // ZooKeeper answers from UnimplementedRequestProcessor with zxid -1.
                self.reply(conn, xid, -1, ErrorCode::Unimplemented.code(), None);
                self.close(conn);
                return;
            }
            Err(e @ RequestError::Malformed(..)) => {
                tracing::warn!("failed to process request: {e}");
                // A malformed write still takes a zxid, logged as ErrorTxn(MARSHALLINGERROR).
                let err = ErrorCode::MarshallingError.code();
                let zxid = if crate::proto::is_write_op(opcode) {
                    let zxid = self.next_zxid();
                    self.commit(sid, xid, op::ERROR, Txn::Error(ErrorTxn { err }), zxid);
                    zxid
                } else {
                    zxid
                };
                self.reply(conn, xid, zxid, err, None);
                return;
            }
        };
        match req {
            Request::Ping => self.reply(conn, special_xid::PING, zxid, 0, None),
            Request::Auth(a) => self.auth(conn, xid, &a.scheme, a.auth.as_deref().unwrap_or(&[])),
            Request::CloseSession => self.close_session(sid, xid, Some(conn)),
            // Without SASL configured ZooKeeper answers OK with a null token.
            Request::Sasl(_) => self.reply(conn, xid, 0, 0, Some(&(-1i32).to_be_bytes())),
            r if r.is_write() => self.write(conn, sid, xid, opcode, &r),
            r => {
                if !self.sessions.is_valid(sid) {
                    self.reply(conn, xid, zxid, ErrorCode::SessionExpired.code(), None);
                    return;
                }
                let ids = self
                    .conns
                    .get(&conn)
                    .map(|c| c.ids.clone())
                    .unwrap_or_default();
                let result = self.read(conn, sid, &ids, &r);
                let zxid = self.tree.last_processed_zxid;
                match result {
                    Ok(body) => self.reply(conn, xid, zxid, 0, body.as_deref()),
                    Err(e) => self.reply(conn, xid, zxid, e.code(), None),
                }
            }
        }
    }

    fn auth(&mut self, conn: ConnId, xid: i32, scheme: &str, auth: &[u8]) {
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
            other => {
                tracing::warn!("no authentication provider for scheme {other}");
                self.reply(conn, xid, 0, ErrorCode::AuthFailed.code(), None);
                self.close(conn);
            }
        }
    }

    fn write(&mut self, conn: ConnId, sid: i64, xid: i32, opcode: i32, req: &Request) {
        let zxid = self.next_zxid();
        let ids = self
            .conns
            .get(&conn)
            .map(|c| c.ids.clone())
            .unwrap_or_default();
        let prepped = {
            let ctx = PrepCtx {
                session_id: sid,
                session_valid: self.sessions.is_valid(sid),
                ids: &ids,
                zxid,
                extended_types: self.cfg.extended_types_enabled,
                reconfig_enabled: self.cfg.reconfig_enabled,
            };
            let mut view = Pending::new(&self.tree);
            prep(req, &ctx, &mut view)
        };
        let (ty, txn) = match prepped {
            Ok(t) => (opcode, t),
            Err(e) => (op::ERROR, Txn::Error(ErrorTxn { err: e.code() })),
        };
        let applied = self.commit(sid, xid, ty, txn, zxid);
        let zxid = self.tree.last_processed_zxid;
        if opcode == op::MULTI {
            let results = applied.results.iter().map(multi_result).collect();
            let body = MultiResponse { results }.to_bytes();
            self.reply(conn, xid, zxid, 0, Some(&body));
            return;
        }
        let Some(r) = applied.results.first() else {
            return;
        };
        if r.err != 0 {
            self.reply(conn, xid, zxid, r.err, None);
            return;
        }
        let stat = r.stat.clone().unwrap_or_default();
        let body: Option<BytesMut> = match opcode {
            op::CREATE => Some(
                CreateResponse {
                    path: r.path.clone(),
                }
                .to_bytes(),
            ),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => Some(
                Create2Response {
                    path: r.path.clone(),
                    stat,
                }
                .to_bytes(),
            ),
            op::SET_DATA | op::SET_ACL => Some(StatResponse { stat }.to_bytes()),
            _ => None,
        };
        self.reply(conn, xid, zxid, 0, body.as_deref());
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
        let now = wall_ms();
        let never_used = self.cfg.container_max_never_used_interval_ms as i64;
        let mut candidates = Vec::new();
        for p in self.tree.containers() {
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
            let ok = self.tree.get(&path).is_some_and(|n| n.num_children() == 0);
            let (ty, txn) = if ok {
                (
                    op::DELETE_CONTAINER,
                    Txn::Delete(op::DELETE_CONTAINER, DeleteTxn { path }),
                )
            } else {
                (
                    op::ERROR,
                    Txn::Error(ErrorTxn {
                        err: ErrorCode::NotEmpty.code(),
                    }),
                )
            };
            self.commit(0, 0, ty, txn, zxid);
        }
    }
}

fn multi_result(r: &crate::pipeline::apply::OpResult) -> MultiResult {
    let stat = r.stat.clone().unwrap_or_default();
    match r.op_type {
        // ZooKeeper 3.8 answers a create2 inside a multi without its stat (result type 1);
        // only container and TTL creates carry one.
        op::CREATE | op::CREATE2 => MultiResult::Create(CreateResponse {
            path: r.path.clone(),
        }),
        op::CREATE_CONTAINER | op::CREATE_TTL => MultiResult::Create2(Create2Response {
            path: r.path.clone(),
            stat,
        }),
        op::DELETE | op::DELETE_CONTAINER => MultiResult::Delete,
        op::SET_DATA => MultiResult::SetData(StatResponse { stat }),
        op::CHECK => MultiResult::Check,
        _ => MultiResult::Error(r.err),
    }
}
