//! The client connections' outlets, owned by the core's driver: the core takes [`Input`]s
//! and leaves its output in an [`Outbox`]; the driver keeps each connection's [`Outlet`]
//! and writes that output to the sockets, so the core never touches one.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::server::conn::{Gone, Outlet};
use crate::server::core::{Core, CoreMsg, Input, Out, Outbox};
use crate::watch::ConnId;

/// Connections in one delivered batch from which the driver writes to their sockets
/// itself rather than waking their writer tasks.
const DIRECT_FAN_OUT: usize = 64;

struct Entry {
    out: Outlet,
    addr: SocketAddr,
    /// Frames handed to the outlet so far.
    sent: u64,
}

/// The live connections' outlets.
#[derive(Default)]
pub struct Outlets {
    map: HashMap<ConnId, Entry>,
}

impl std::fmt::Debug for Outlets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outlets({} connections)", self.map.len())
    }
}

impl Outlets {
    /// Keeps a new connection's outlet and hands the rest of the message to the core.
    pub fn admit(&mut self, msg: CoreMsg) -> Input {
        match msg {
            CoreMsg::Connect {
                conn,
                req,
                addr,
                out,
            } => {
                self.map.insert(conn, Entry { out, addr, sent: 0 });
                Input::Connect { conn, req, addr }
            }
            CoreMsg::Input(input) => {
                if let Input::Closed { conn } = &input {
                    // The reader is gone; output still queued for it has nowhere to go.
                    self.map.remove(conn);
                }
                input
            }
        }
    }

    /// The end of a turn: the core's output that may go now goes, connections that ended
    /// are forgotten by the core, and the requests answered are completed (latencies).
    pub fn finish_turn(&mut self, core: &mut Core) {
        let outbox = core.take_outbox();
        let marks = core.take_marks();
        for conn in self.deliver(outbox) {
            core.drop_conn(conn);
        }
        core.complete(marks);
    }

    /// Writes an outbox; returns the connections that ended (closed by the core, or
    /// broken, or not reading their replies).
    pub fn deliver(&mut self, outbox: Outbox) -> Vec<ConnId> {
        // Each connection's frames in order, and whether a close follows them. Connections
        // take their turns in the order of their first output (their requests' order): in
        // id order the same ones would always wait for all the others' writes.
        let mut turn: HashMap<ConnId, usize> = HashMap::new();
        let mut runs: Vec<(ConnId, Vec<Bytes>, bool)> = Vec::new();
        for (conn, out) in outbox {
            let i = *turn.entry(conn).or_insert_with(|| {
                runs.push((conn, Vec::new(), false));
                runs.len() - 1
            });
            let (_, frames, close) = &mut runs[i];
            match out {
                // Output after a close has nowhere to go: the connection is gone.
                Out::Frame(_) if *close => {}
                Out::Frame(f) => frames.push(f),
                Out::Close => *close = true,
            }
        }
        // A batch that reaches many connections (a watch fired for hundreds of sessions)
        // is written from here: one task wakeup per connection would cost more than the
        // writes. A batch for a few connections goes through their writer tasks, which
        // batch across the core's turns: writing it here measured 7-10% fewer pipelined
        // reads, the client and server sharing two cores.
        let direct = runs.len() >= DIRECT_FAN_OUT;
        let mut gone = Vec::new();
        for (conn, mut frames, close) in runs {
            if !self.deliver_to(conn, &mut frames, close, direct) {
                gone.push(conn);
            }
        }
        gone
    }

    /// Sends one connection its frames of a batch, then a close when `close`; false when
    /// the connection ended.
    fn deliver_to(
        &mut self,
        conn: ConnId,
        frames: &mut Vec<Bytes>,
        close: bool,
        direct: bool,
    ) -> bool {
        let Some(e) = self.map.get_mut(&conn) else {
            return true;
        };
        e.sent += frames.len() as u64;
        // A connection's first output (its ConnectResponse) and its last (a close) are
        // written from here too: a session that connects and closes would otherwise wake
        // its writer task twice for one frame each.
        let direct = direct || close || e.sent == frames.len() as u64;
        match e.out.send(frames, close, direct) {
            Ok(()) if !close => true,
            Ok(()) => {
                self.map.remove(&conn);
                false
            }
            Err(gone) => {
                if gone == Gone::Full {
                    tracing::warn!(
                        "closing connection from {}: client is not reading its replies",
                        e.addr
                    );
                }
                e.out.abort();
                self.map.remove(&conn);
                false
            }
        }
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
