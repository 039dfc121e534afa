//! Drives the server core with arbitrary connections and requests. Input: a sequence of
//! records `[conn: u8][len: u8][payload: len bytes]`; the first payload of a connection is
//! its ConnectRequest, later ones RequestHeader + body. A zero-length payload closes the
//! connection; conn 0xff moves the core's clock on by 5 s and ticks (session expiry,
//! container reaping). A record whose
//! conn has bit 0x40 set leaves its txns unsynced, so later requests are prepped over the
//! uncommitted state and wait behind them until a later record syncs the log.
#![no_main]

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ferrokeeper::config::Config;
use ferrokeeper::jute::Jute;
use ferrokeeper::proto::{ConnectRequest, Request, RequestHeader};
use ferrokeeper::server::clock::Now;
use ferrokeeper::server::conn::Outlet;
use ferrokeeper::server::core::{Core, CoreMsg, Input, Out};
use ferrokeeper::server::outlets::Outlets;
use ferrokeeper::storage::MemLog;
use libfuzzer_sys::fuzz_target;
use tokio::sync::mpsc;

fn drain(conns: &mut HashMap<u8, mpsc::Receiver<Out>>) {
    conns.retain(|_, rx| loop {
        match rx.try_recv() {
            Ok(Out::Frame(f)) => {
                // Every frame carries its own length.
                let n = i32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
                assert_eq!(n + 4, f.len());
            }
            Ok(Out::Close) => break false,
            Err(mpsc::error::TryRecvError::Empty) => break true,
            Err(mpsc::error::TryRecvError::Disconnected) => break false,
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let mut cfg = Config::default_standalone();
    cfg.extended_types_enabled = data.first().is_some_and(|b| b & 1 == 1);
    cfg.super_digest = Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into());
    let mut core = Core::new(Arc::new(cfg), Box::new(MemLog::default()));
    let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let mut conns: HashMap<u8, mpsc::Receiver<Out>> = HashMap::new();
    let mut outlets = Outlets::default();
    let mut now = Now {
        mono_us: 0,
        wall_ms: 1_700_000_000_000,
    };
    core.set_now(now);
    let mut i = data;
    while i.len() >= 2 {
        let (conn, len) = (i[0], usize::from(i[1]));
        i = &i[2..];
        let payload = &i[..len.min(i.len())];
        i = &i[payload.len()..];
        if conn == 0xff {
            now.mono_us += 5_000_000;
            now.wall_ms += 5_000;
            core.set_now(now);
            core.tick();
            core.reap_containers();
        } else if payload.is_empty() {
            core.handle(outlets.admit(CoreMsg::Input(Input::Closed { conn: conn.into() })));
            conns.remove(&conn);
        } else if let Entry::Vacant(slot) = conns.entry(conn) {
            if let Ok((_, req)) = ConnectRequest::read(payload) {
                let (tx, rx) = mpsc::channel(1 << 16);
                slot.insert(rx);
                core.handle(outlets.admit(CoreMsg::Connect {
                    conn: conn.into(),
                    req,
                    addr,
                    out: Outlet::channel(tx),
                }));
            }
        } else if let Ok((body, h)) = RequestHeader::read(payload) {
            core.handle(Input::Request {
                conn: conn.into(),
                xid: h.xid,
                op: h.r#type,
                req: Request::decode(h.r#type, body),
                body: bytes::Bytes::copy_from_slice(body),
            });
        }
        if conn & 0x40 == 0 {
            if core.flush().is_err() {
                return;
            }
            outlets.finish_turn(&mut core);
            drain(&mut conns);
        }
    }
    if core.flush().is_ok() {
        outlets.finish_turn(&mut core);
        drain(&mut conns);
    }
});
