//! Nothing a client can see leaves before its txn is durable: a txn log whose sync blocks
//! until the test releases it shows the replies, notifications, later reads of other
//! sessions and new sessions' handshakes all waiting for that sync; a log whose sync fails
//! shows the node stopping without answering. Raw sockets, so every byte that leaves is
//! seen.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ferrokeeper::config::Config;
use ferrokeeper::server::{Server, ServerError};
use ferrokeeper::storage::{MemLog, StorageError, TxnLog};

mod raw_support;
use raw_support::{
    connect_request, create_body_with, frame, raw, read_frame, reply, request, session, ustr,
};

const OP_CREATE: i32 = 1;
const OP_EXISTS: i32 = 3;
const OP_GET_DATA: i32 = 4;
const NODE_CREATED: i32 = 1;
const NO_NODE: i32 = -101;
/// How long "nothing leaves" is watched for.
const QUIET: Duration = Duration::from_millis(600);

/// What the test makes the next syncs do.
#[derive(Default)]
struct GateState {
    /// Syncs wait while closed.
    closed: bool,
    /// Syncs fail while set.
    failing: bool,
    /// Syncs waiting at the gate now.
    blocked: usize,
    /// Syncs that returned Ok.
    synced: usize,
}

#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

impl Gate {
    fn set(&self, f: impl FnOnce(&mut GateState)) {
        f(&mut self.state.lock().unwrap());
        self.changed.notify_all();
    }

    /// Waits until a sync is held at the closed gate: its batch is in the writer.
    fn await_blocked(&self) {
        let g = self.state.lock().unwrap();
        let (g, timeout) = self
            .changed
            .wait_timeout_while(g, Duration::from_secs(10), |s| s.blocked == 0)
            .unwrap();
        assert!(!timeout.timed_out(), "no sync reached the gate");
        drop(g);
    }
}

/// The in-memory log behind a gate.
struct GatedLog {
    inner: MemLog,
    gate: Arc<Gate>,
}

impl TxnLog for GatedLog {
    fn append(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        self.inner.append(zxid, entry)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        let mut g = self.gate.state.lock().unwrap();
        if g.failing {
            return Err(StorageError::Io("the test's disk failed".into()));
        }
        g.blocked += 1;
        self.gate.changed.notify_all();
        g = self.gate.changed.wait_while(g, |s| s.closed).unwrap();
        g.blocked -= 1;
        if g.failing {
            return Err(StorageError::Io("the test's disk failed".into()));
        }
        g.synced += 1;
        drop(g);
        self.inner.sync()
    }
    fn put_snapshot(&mut self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError> {
        self.inner.put_snapshot(zxid, bytes)
    }
    fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
        self.inner.snapshot_zxids()
    }
    fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError> {
        self.inner.get_snapshot(zxid)
    }
    fn purge(&mut self, retain: usize) -> Result<(), StorageError> {
        self.inner.purge(retain)
    }
    fn read_range(&self, after: i64, max: usize) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        self.inner.read_range(after, max)
    }
    fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
        self.inner.first_zxid()
    }
    fn last_zxid(&self) -> i64 {
        self.inner.last_zxid()
    }
    fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError> {
        self.inner.truncate_after(zxid)
    }
}

/// A running server and what its `run` returned, once it has.
struct Node {
    addr: SocketAddr,
    gate: Arc<Gate>,
    ended: mpsc::Receiver<Result<(), ServerError>>,
}

fn start() -> Node {
    let gate = Arc::new(Gate::default());
    let log = GatedLog {
        inner: MemLog::default(),
        gate: gate.clone(),
    };
    let mut cfg = Config::default_standalone();
    cfg.client_port = 0;
    let (addr_tx, addr_rx) = mpsc::channel();
    let (end_tx, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let s = Server::bind_with_log(cfg, Box::new(log))
                .await
                .expect("bind");
            addr_tx.send(s.local_addr().unwrap()).unwrap();
            let _ = end_tx.send(s.run().await);
        });
    });
    Node {
        addr: addr_rx.recv().unwrap(),
        gate,
        ended,
    }
}

fn send_request(s: &mut TcpStream, xid: i32, op: i32, body: &[u8]) {
    s.write_all(&request(xid, op, body)).unwrap();
}

/// exists / getData body: path, watch.
fn path_watch(path: &str, watch: bool) -> Vec<u8> {
    let mut b = ustr(path.as_bytes());
    b.push(u8::from(watch));
    b
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// True when no byte arrives for `QUIET` (the connection staying open).
fn quiet(s: &TcpStream) -> bool {
    s.set_read_timeout(Some(QUIET)).unwrap();
    let mut one = [0u8; 1];
    let r = s.peek(&mut one);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    matches!(r, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

#[test]
fn replies_notifications_later_reads_and_handshakes_wait_for_the_sync() {
    let node = start();
    let mut a = session(node.addr);
    let mut b = session(node.addr);
    send_request(&mut b, 1, OP_EXISTS, &path_watch("/x", true));
    let (xid, _, err, body) = reply(&mut b);
    assert_eq!(
        (xid, err, body),
        (1, NO_NODE, Vec::new()),
        "exists with a watch"
    );

    node.gate.set(|g| g.closed = true);
    send_request(&mut a, 1, OP_CREATE, &create_body_with(b"/x", Some(b"v")));
    node.gate.await_blocked();
    // Applied in memory but not durable: none of this may leave yet.
    send_request(&mut b, 2, OP_GET_DATA, &path_watch("/x", false));
    let mut c = raw(node.addr);
    c.write_all(&frame(&connect_request(0, 0, true))).unwrap();
    assert!(quiet(&a), "the create's reply left before its sync");
    assert!(
        quiet(&b),
        "the NodeCreated event or a later read of another session left before the sync"
    );
    assert!(
        quiet(&c),
        "a new session's handshake left before its createSession was durable"
    );

    node.gate.set(|g| g.closed = false);
    let (xid, _, err, body) = reply(&mut a);
    assert_eq!((xid, err), (1, 0), "create");
    assert_eq!(body, ustr(b"/x"), "CreateResponse");
    let event = read_frame(&mut b).expect("notification");
    assert_eq!(be_i32(&event, 0), -1, "a notification comes first");
    assert_eq!(be_i32(&event, 16), NODE_CREATED, "NodeCreated");
    assert_eq!(&event[24..], ustr(b"/x").as_slice());
    let (xid, _, err, body) = reply(&mut b);
    assert_eq!((xid, err), (2, 0), "getData after the event");
    assert_eq!(
        &body[..5],
        ustr(b"v").as_slice(),
        "the data the create wrote"
    );
    assert!(
        read_frame(&mut c).is_some(),
        "ConnectResponse after the sync"
    );
    assert!(node.gate.state.lock().unwrap().synced >= 3);
}

#[test]
fn a_failing_log_stops_the_node_without_answering() {
    let node = start();
    let mut a = session(node.addr);
    let mut b = session(node.addr);
    node.gate.set(|g| g.failing = true);
    send_request(&mut a, 1, OP_CREATE, &create_body_with(b"/x", Some(b"v")));
    let started = Instant::now();
    assert_eq!(read_frame(&mut a), None, "the write was answered");
    assert_eq!(read_frame(&mut b), None, "another session was answered");
    let ended = node
        .ended
        .recv_timeout(Duration::from_secs(10))
        .expect("the server went on running");
    assert!(
        matches!(ended, Err(ServerError::Log(_))),
        "run() ended with {ended:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let refused = TcpStream::connect_timeout(&node.addr, Duration::from_secs(2));
    assert!(refused.is_err(), "the client port still accepts");
}
