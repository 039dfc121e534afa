//! Propose and commit in the core: prep sees proposed txns, the tree and the clients see
//! only committed ones, and everything after a write waits behind it.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::jute::Jute;
use crate::proto::{
    op, Acl, ConnectRequest, CreateRequest, DeleteRequest, Id, PathWatchRequest, ReplyHeader,
    Request,
};
use crate::server::conn::Outlet;
use crate::server::core::{Core, CoreMsg, Input, Out, Outbox};
use crate::server::outlets::Outlets;
use crate::storage::MemLog;
use crate::watch::ConnId;

/// A core with a driver's outlets: what the tests send goes through `handle`, what the
/// core sends through `deliver`; everything else is the core's own.
pub(super) struct Driven {
    core: Core,
    outlets: Outlets,
}

impl std::ops::Deref for Driven {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl std::ops::DerefMut for Driven {
    fn deref_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

impl Driven {
    pub(super) fn handle(&mut self, msg: CoreMsg) {
        let input = self.outlets.admit(msg);
        self.core.handle(input);
    }

    pub(super) fn deliver(&mut self, outbox: Outbox) {
        for conn in self.outlets.deliver(outbox) {
            self.core.drop_conn(conn);
        }
    }
}

pub(super) fn core() -> Driven {
    core_with(Config::default_standalone())
}

pub(super) fn core_with(cfg: Config) -> Driven {
    Driven {
        core: Core::new(Arc::new(cfg), Box::new(MemLog::default())),
        outlets: Outlets::default(),
    }
}

pub(super) fn connect(core: &mut Driven, conn: u64) -> Client {
    let (tx, rx) = mpsc::channel(1024);
    core.handle(CoreMsg::Connect {
        conn: conn as ConnId,
        req: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: None,
        },
        addr: "127.0.0.1:5000".parse().expect("an address"),
        out: Outlet::channel(tx),
    });
    Client {
        rx,
        connected: false,
    }
}

pub(super) fn request(core: &mut Driven, conn: u64, xid: i32, opcode: i32, req: Request) {
    core.handle(CoreMsg::Input(Input::Request {
        conn: conn as ConnId,
        xid,
        op: opcode,
        req: Ok(req),
        body: bytes::Bytes::new(),
    }));
}

/// A create of `path` open to anyone, with `flags` (2: sequential).
pub(super) fn create(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: None,
        acl: vec![Acl {
            perms: 31,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }],
        flags,
    }
}

pub(super) fn sequential(path: &str) -> Request {
    Request::Create(op::CREATE, create(path, 2))
}

/// A test connection: its output, and whether its ConnectResponse came.
pub(super) struct Client {
    pub(super) rx: mpsc::Receiver<Out>,
    pub(super) connected: bool,
}

/// The ConnectResponse, as `replies` lists it.
pub(super) const CONNECTED: i32 = i32::MIN;

/// Delivers the core's output and returns (xid, err) of each frame for `c`; its first frame
/// is the ConnectResponse, listed as `CONNECTED`.
pub(super) fn replies(core: &mut Driven, c: &mut Client) -> Vec<(i32, i32)> {
    let out = core.take_outbox();
    core.deliver(out);
    let mut v = Vec::new();
    while let Ok(Out::Frame(f)) = c.rx.try_recv() {
        if !c.connected {
            c.connected = true;
            v.push((CONNECTED, 0));
        } else if let Ok((_, h)) = ReplyHeader::read(&f[4..]) {
            v.push((h.xid, h.err));
        }
    }
    v
}

#[test]
fn pipelined_writes_see_each_other_but_the_tree_waits_for_the_log() {
    let mut core = core();
    let mut rx = connect(&mut core, 1);
    request(&mut core, 1, 1, op::CREATE, sequential("/s-"));
    request(&mut core, 1, 2, op::CREATE, sequential("/s-"));
    // Deleting the first node works before its create is committed: prep sees it.
    let del = DeleteRequest {
        path: "/s-0000000000".into(),
        version: -1,
    };
    request(&mut core, 1, 3, op::DELETE, Request::Delete(del));
    let get = PathWatchRequest {
        path: "/".into(),
        watch: false,
    };
    request(&mut core, 1, 4, op::GET_CHILDREN, Request::GetChildren(get));
    let log = core.take_log();
    assert_eq!(log.len(), 4, "createSession and three writes proposed");
    assert!(
        core.tree().get("/s-0000000000").is_none(),
        "nothing applied yet"
    );
    assert!(
        replies(&mut core, &mut rx).is_empty(),
        "not even the ConnectResponse"
    );

    // The log makes the first two durable: the session and the first create.
    core.durable(log[1].0);
    assert!(core.tree().get("/s-0000000000").is_some());
    let got = replies(&mut core, &mut rx);
    assert_eq!(got, vec![(CONNECTED, 0), (1, 0)], "the rest waits");

    core.durable(log[3].0);
    let got = replies(&mut core, &mut rx);
    assert_eq!(got, vec![(2, 0), (3, 0), (4, 0)]);
    assert!(
        core.tree().get("/s-0000000001").is_some(),
        "the second number"
    );
    assert!(core.tree().get("/s-0000000000").is_none(), "deleted");
    assert!(core.uncommitted.is_empty(), "every change settled");
}

#[test]
fn a_failed_multi_leaves_no_pending_change_behind() {
    use crate::proto::{MultiOp, MultiRequest};
    let mut core = core();
    let mut rx = connect(&mut core, 1);
    let create = create("/m", 0);
    let missing = DeleteRequest {
        path: "/missing".into(),
        version: -1,
    };
    let multi = MultiRequest {
        ops: vec![
            MultiOp::Create(op::CREATE, create.clone()),
            MultiOp::Delete(missing),
        ],
    };
    request(&mut core, 1, 1, op::MULTI, Request::Multi(multi));
    // If the failed multi's create had stayed pending, this would be NODEEXISTS.
    request(
        &mut core,
        1,
        2,
        op::CREATE,
        Request::Create(op::CREATE, create),
    );
    let log = core.take_log();
    core.durable(log[log.len() - 1].0);
    let got = replies(&mut core, &mut rx);
    assert_eq!(
        got,
        vec![(CONNECTED, 0), (1, 0), (2, 0)],
        "per-op errors in the body"
    );
    assert!(core.tree().get("/m").is_some());
}

#[test]
fn an_expired_session_closes_its_connection_when_the_close_commits() {
    let mut core = core();
    let mut rx = connect(&mut core, 1);
    let log = core.take_log();
    core.durable(log[0].0);
    assert_eq!(replies(&mut core, &mut rx), vec![(CONNECTED, 0)]);
    let sid = core.session_list()[0].0;
    core.close_session(sid, crate::server::commit::Origin::Internal);
    let out = core.take_outbox();
    core.deliver(out);
    assert!(rx.rx.try_recv().is_err(), "no close before the commit");
    let log = core.take_log();
    core.durable(log[0].0);
    let out = core.take_outbox();
    core.deliver(out);
    assert!(matches!(rx.rx.try_recv(), Ok(Out::Close)));
    assert!(core.session_list().is_empty());
}
