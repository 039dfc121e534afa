//! Linearizable sync on the leader's own connections (`linearizableSync=true`): a client's
//! sync waits until the leader machine has confirmed its leadership with a quorum round
//! that started after the sync arrived (`quorum::leader::confirm`). ZooKeeper answers it at
//! once, as a read behind the session's writes.
//!
//! The connection is parked meanwhile: the requests it sends after the sync are held, in
//! order, and run once the sync has gone on, so its replies keep their order without
//! holding up any other session (a sync in the core's commit queue would stall every
//! write behind it for the round trip).

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::proto::{Request, RequestError};
use crate::server::core::Core;
use crate::server::role::Role;
use crate::watch::ConnId;

/// Requests one parked connection may send before it is closed (a client pipelining
/// without bound behind a sync the leader cannot confirm).
const MAX_PARKED: usize = 1000;

/// A request as the connection sent it.
#[derive(Debug)]
pub(crate) struct Held {
    xid: i32,
    opcode: i32,
    req: Result<Request, RequestError>,
    body: Bytes,
}

/// One connection's sync waiting for its round, and what the connection sent after it.
#[derive(Debug)]
struct Parked {
    token: u64,
    sync: Held,
    later: VecDeque<Held>,
}

/// The leader core's parked connections.
#[derive(Debug, Default)]
pub(crate) struct Confirming {
    parked: HashMap<ConnId, Parked>,
    /// Syncs to hand to the leader machine (Leader::local_sync), by token.
    new: Vec<u64>,
    next_token: u64,
}

impl Core {
    /// Parks `conn` on its sync, or holds a request of a parked connection. Gives the
    /// request back when it goes on now.
    pub(crate) fn park(&mut self, conn: ConnId, h: Held) -> Option<Held> {
        let on = self.cfg.linearizable_sync;
        let Role::Leading(l) = &mut self.role else {
            return Some(h);
        };
        let c = &mut l.confirming;
        if let Some(p) = c.parked.get_mut(&conn) {
            if p.later.len() >= MAX_PARKED {
                tracing::warn!("closing connection {conn}: {MAX_PARKED} requests behind a sync");
                c.parked.remove(&conn);
                self.close(conn);
            } else {
                p.later.push_back(h);
            }
            return None;
        }
        if !on || !matches!(h.req, Ok(Request::Sync(_))) {
            return Some(h);
        }
        let token = c.next_token;
        c.next_token += 1;
        c.new.push(token);
        c.parked.insert(
            conn,
            Parked {
                token,
                sync: h,
                later: VecDeque::new(),
            },
        );
        None
    }

    /// Syncs of the leader's own clients for the leader machine, in arrival order.
    pub(crate) fn take_local_syncs(&mut self) -> Vec<u64> {
        match &mut self.role {
            Role::Leading(l) => std::mem::take(&mut l.confirming.new),
            _ => Vec::new(),
        }
    }

    /// The leader machine confirmed the round `token` waited for: the sync goes on (behind
    /// its session's writes), then what its connection sent after it.
    pub(crate) fn local_sync_confirmed(&mut self, token: u64) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        let parked = &mut l.confirming.parked;
        let Some(conn) = parked
            .iter()
            .find(|(_, p)| p.token == token)
            .map(|(c, _)| *c)
        else {
            return; // the connection closed meanwhile
        };
        let Some(p) = parked.remove(&conn) else {
            return;
        };
        let Some(sid) = self.conns.get(&conn).map(|c| c.session_id) else {
            return;
        };
        let s = p.sync;
        self.dispatch(conn, sid, s.xid, s.opcode, s.req, s.body);
        for h in p.later {
            // A later sync parks the connection again, and the rest is held behind it.
            if let Some(h) = self.park(conn, h) {
                self.dispatch(conn, sid, h.xid, h.opcode, h.req, h.body);
            }
        }
    }
}

impl Held {
    pub(crate) fn new(
        xid: i32,
        opcode: i32,
        req: Result<Request, RequestError>,
        body: Bytes,
    ) -> Held {
        Held {
            xid,
            opcode,
            req,
            body,
        }
    }

    pub(crate) fn into_parts(self) -> (i32, i32, Result<Request, RequestError>, Bytes) {
        (self.xid, self.opcode, self.req, self.body)
    }
}
