//! Read-only mode (`readonlymode.enabled`): ZooKeeper's ReadOnlyZooKeeperServer, which a
//! participant starts while it looks for a leader, once the election has taken a grace
//! period, and shuts when the election ends (the peer's LOOKING loop does both).
//!
//! What ZooKeeper 3.8.0 does, and this core with it:
//! - a client that did not ask `canBeReadOnly` (the ConnectRequest's trailing flag false
//!   or missing) is refused: the connection is closed without a ConnectResponse;
//! - a client that asked gets `readOnly=true` in its ConnectResponse;
//! - a new session needs `localSessionsEnabled=true`: it is then a local session of this
//!   server's (no txn, nothing logged, the tree unchanged), forgotten with the mode, so the
//!   quorum never hears of it. Without local sessions ReadOnlyRequestProcessor turns the
//!   createSession away like a write: the client gets a bare ReplyHeader (xid 0, NOTREADONLY)
//!   where it waits for a ConnectResponse, which no client can read (documented by
//!   ZooKeeper since PR #1922: read-only mode needs local sessions);
//! - a reconnect with a session of the quorum's (loaded with the tree) is refused
//!   ("Refusing global session reconnection in RO mode"); one made here is taken back on
//!   its password; one nobody knows is taken on its password only without local sessions
//!   (LearnerSessionTracker.touchSession then says yes to any), else it is invalid;
//! - state-changing requests (ReadOnlyRequestProcessor's list, sync included, by opcode
//!   before any decoding) are answered NOTREADONLY with the tree's last zxid; reads,
//!   watches, auth and pings are served from the tree; closeSession of a session made here
//!   is answered and the connection closed, of any other NOTREADONLY.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::proto::{op, ConnectRequest, ErrorCode, Request, RequestError};
use crate::server::core::Core;
use crate::server::role::Role;
use crate::watch::ConnId;

/// The read-only server's own state: the sessions it let in, dropped with the mode.
#[derive(Debug, Default)]
pub(crate) struct ReadOnly {
    /// Local sessions created here (with `localSessionsEnabled`).
    created: HashSet<i64>,
    /// Sessions nobody here knew, taken on their password (without local sessions).
    adopted: HashSet<i64>,
}

impl ReadOnly {
    /// Whether the session is one this mode let in (it is not the quorum's).
    pub(crate) fn owns(&self, session_id: i64) -> bool {
        self.created.contains(&session_id) || self.adopted.contains(&session_id)
    }
}

/// ReadOnlyRequestProcessor's list: what a read-only server answers NOTREADONLY.
pub(crate) fn changes_state(opcode: i32) -> bool {
    matches!(
        opcode,
        op::SYNC
            | op::CREATE
            | op::CREATE2
            | op::CREATE_TTL
            | op::CREATE_CONTAINER
            | op::DELETE
            | op::DELETE_CONTAINER
            | op::SET_DATA
            | op::RECONFIG
            | op::SET_ACL
            | op::MULTI
            | op::CHECK
    )
}

impl Core {
    /// Whether this server is in read-only mode.
    pub(crate) fn is_read_only(&self) -> bool {
        matches!(self.role, Role::ReadOnly(_))
    }

    /// ReadOnlyZooKeeperServer.startup: serve reads while the election goes on. Only a
    /// server that serves nobody (an electing peer) starts it.
    pub(crate) fn start_read_only(&mut self) -> bool {
        if !matches!(self.role, Role::NotServing) {
            return false;
        }
        self.role = Role::ReadOnly(ReadOnly::default());
        true
    }

    /// The sessions the read-only mode let in, which go when it ends.
    pub(crate) fn forget_read_only_sessions(&mut self) {
        if let Role::ReadOnly(ro) = &mut self.role {
            let ids: Vec<i64> = ro.created.drain().chain(ro.adopted.drain()).collect();
            for id in ids {
                self.sessions.remove(id);
            }
        }
    }

    /// Whether a read-only server lets a ConnectRequest in at all (before a session is
    /// looked at or made); the caller closes the connection when it does not.
    pub(crate) fn read_only_admits(&self, req: &ConnectRequest, addr: SocketAddr) -> bool {
        let Role::ReadOnly(ro) = &self.role else {
            return true;
        };
        if req.read_only != Some(true) {
            tracing::info!("Refusing session request for not-read-only client {addr}");
            return false;
        }
        let id = req.session_id;
        if id != 0 && !ro.owns(id) && self.sessions.get(id).is_some() {
            tracing::info!("Refusing global session reconnection in RO mode {addr}");
            return false;
        }
        true
    }

    /// Read-only: a new session, or a reconnect of one the quorum does not know; the
    /// connection is registered already.
    pub(crate) fn read_only_session(
        &mut self,
        conn: ConnId,
        req: ConnectRequest,
        addr: SocketAddr,
        timeout: i32,
    ) {
        let local = self.cfg.local_sessions_enabled;
        if req.session_id == 0 && !local {
            // ReadOnlyRequestProcessor refuses the global createSession as a write.
            tracing::info!("no local sessions: refusing a read-only session to {addr}");
            let zxid = self.tree.last_processed_zxid;
            let err = ErrorCode::NotReadOnly.code();
            self.in_order(|core| {
                core.reply(conn, 0, zxid, err, None);
                core.close(conn);
            });
            return;
        }
        let now = self.now_ms();
        let (id, valid) = if req.session_id == 0 {
            (self.sessions.next_session_id(), true)
        } else {
            let id = req.session_id;
            let pw_ok = req.passwd == crate::session::session_password(id);
            let mine = matches!(&self.role, Role::ReadOnly(ro) if ro.created.contains(&id));
            (id, pw_ok && (mine || !local))
        };
        if valid {
            self.sessions.add(id, timeout, now);
            if let Role::ReadOnly(ro) = &mut self.role {
                if req.session_id == 0 || ro.created.contains(&id) {
                    ro.created.insert(id);
                } else {
                    ro.adopted.insert(id);
                }
            }
        }
        let mut req = req;
        req.session_id = id;
        self.in_order(|core| core.answer_reconnect(conn, &req, addr, timeout, valid));
    }

    /// Read-only: a request after the handshake.
    pub(crate) fn read_only_request(
        &mut self,
        conn: ConnId,
        sid: i64,
        xid: i32,
        opcode: i32,
        req: Result<Request, RequestError>,
    ) {
        if changes_state(opcode) {
            let zxid = self.tree.last_processed_zxid;
            let err = ErrorCode::NotReadOnly.code();
            self.in_order(|core| core.reply(conn, xid, zxid, err, None));
            return;
        }
        match req {
            Ok(Request::Auth(a)) => self
                .in_order(|core| core.auth(conn, xid, &a.scheme, a.auth.as_deref().unwrap_or(&[]))),
            Ok(Request::CloseSession) => {
                // A local session goes with its connection, no txn; a global one would
                // need the quorum.
                let zxid = self.tree.last_processed_zxid;
                let local = match &mut self.role {
                    Role::ReadOnly(ro) => ro.created.remove(&sid),
                    _ => false,
                };
                if !local {
                    let err = ErrorCode::NotReadOnly.code();
                    self.in_order(|core| core.reply(conn, xid, zxid, err, None));
                    return;
                }
                self.sessions.remove(sid);
                self.in_order(|core| {
                    core.reply(conn, xid, zxid, 0, None);
                    core.close(conn);
                });
            }
            Ok(r) => self.read_in_order(conn, xid, opcode, r),
            Err(e) => self.in_order(|core| core.bad_request(conn, xid, e)),
        }
    }
}
