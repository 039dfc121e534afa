//! The request workloads: their znodes, set up before timing, and their one operation.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error};

use super::driver::{drive, Limits};
use super::report::Outcome;
use super::{BenchArgs, Workload, ROOT};

/// Sessions connected at once while opening many.
const CONNECT_PARALLELISM: usize = 32;

/// What a workload's operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Create,
    Set,
    Get,
    Exists,
    Delete,
    Children,
    Mixed,
    Multi,
    Load,
    /// Setup: creates `names` (setting their data if they exist already).
    Fill,
}

/// A workload's operation and the znodes it uses.
pub struct Ctx {
    kind: Kind,
    value: Vec<u8>,
    /// Create: the prefix of new znodes' paths.
    prefix: String,
    /// Set, get, exists, mixed: one znode per session. Delete, fill: one per operation.
    paths: Vec<String>,
    /// Multi: the znodes of each session's transaction.
    multi: Vec<Vec<String>>,
    read_pct: u64,
}

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

impl Ctx {
    fn new(kind: Kind, value: Vec<u8>) -> Self {
        Ctx {
            kind,
            value,
            prefix: String::new(),
            paths: Vec::new(),
            multi: Vec::new(),
            read_pct: 0,
        }
    }

    /// Operation `g` of session `s`; Ok(false) when there is nothing left to do.
    pub async fn op(&self, c: &Client, s: usize, g: u64) -> Result<bool, Error> {
        let own = || self.paths.get(s).map(String::as_str).unwrap_or(ROOT);
        match self.kind {
            Kind::Create => {
                let path = format!("{}{g}", self.prefix);
                c.create(&path, &self.value, &persistent()).await?;
            }
            Kind::Set => {
                c.set_data(own(), &self.value, None).await?;
            }
            Kind::Get => {
                c.get_data(own()).await?;
            }
            Kind::Exists => {
                c.check_stat(own()).await?;
            }
            Kind::Mixed => {
                let roll = (g.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 100;
                if roll < self.read_pct {
                    c.get_data(own()).await?;
                } else {
                    c.set_data(own(), &self.value, None).await?;
                }
            }
            Kind::Delete => match self.paths.get(g as usize) {
                Some(p) => c.delete(p, None).await?,
                None => return Ok(false),
            },
            Kind::Children => {
                c.list_children(&format!("{ROOT}/wide")).await?;
            }
            Kind::Multi => {
                let mut w = c.new_multi_writer();
                for p in self.multi.get(s).into_iter().flatten() {
                    w.add_set_data(p, &self.value, None)?;
                }
                w.commit().await?;
            }
            Kind::Load => {
                let path = load_path(g);
                c.create(&path, &self.value, &persistent()).await?;
            }
            Kind::Fill => {
                let Some(p) = self.paths.get(g as usize) else {
                    return Ok(false);
                };
                match c.create(p, &self.value, &persistent()).await {
                    Err(Error::NodeExists) => c.set_data(p, &self.value, None).await.map(|_| ())?,
                    r => r.map(|_| ())?,
                }
            }
        }
        Ok(true)
    }

    /// What operation `g` touched, for error messages.
    pub fn describe(&self, g: u64) -> String {
        match self.kind {
            Kind::Create => format!("{:?} {}{g}", self.kind, self.prefix),
            Kind::Load => format!("{:?} {}", self.kind, load_path(g)),
            Kind::Delete | Kind::Fill => {
                let p = self.paths.get(g as usize).map(String::as_str);
                format!("{:?} {}", self.kind, p.unwrap_or("-"))
            }
            k => format!("{k:?}"),
        }
    }
}

/// The path of load znode `g`: 1000 znodes under each of `/fkbench/load/p0`, `p1`, ...
fn load_path(g: u64) -> String {
    format!("{ROOT}/load/p{}/n{}", g / 1000, g % 1000)
}

/// Connects `n` sessions, `CONNECT_PARALLELISM` at a time.
pub async fn connect_all(connect: &str, n: usize) -> Result<Vec<Client>, Error> {
    stream::iter(0..n)
        .map(|_| connect_one(connect))
        .buffered(CONNECT_PARALLELISM)
        .try_collect()
        .await
}

/// Closes sessions and waits (a bounded time) until the server has answered each close, so
/// a run leaves nothing behind: sessions that outlive the bench process linger until they
/// expire, and the server's expiring them would land in the next measurement.
pub async fn close_all(clients: Vec<Client>) {
    let waits = clients.into_iter().map(|c| {
        let mut states = c.state_watcher();
        drop(c);
        async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while !states.changed().await.is_terminated() {}
            })
            .await;
        }
    });
    stream::iter(waits)
        .buffer_unordered(CONNECT_PARALLELISM)
        .collect::<Vec<()>>()
        .await;
}

/// Connects one session.
pub async fn connect_one(connect: &str) -> Result<Client, Error> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(connect)
        .await
}

/// Creates `path` if it does not exist.
pub async fn ensure(c: &Client, path: &str) -> Result<(), Error> {
    match c.create(path, b"", &persistent()).await {
        Ok(_) | Err(Error::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates (or overwrites) `paths` with `value`, untimed, from all sessions.
async fn fill(
    clients: &[Client],
    args: &BenchArgs,
    paths: Vec<String>,
    value: Vec<u8>,
) -> Result<(), String> {
    let n = paths.len() as u64;
    let mut ctx = Ctx::new(Kind::Fill, value);
    ctx.paths = paths;
    let lim = Limits {
        warmup: Duration::ZERO,
        duration: Duration::ZERO,
        ops: Some(n),
    };
    let out = drive(
        "setup",
        clients,
        args.outstanding,
        Arc::new(ctx),
        lim,
        args.no_progress,
    )
    .await;
    match out.first_error {
        Some(e) => Err(format!("setup: {e}")),
        None => Ok(()),
    }
}

fn run_tag() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    (ms % 1_000_000_000) as u64
}

/// Makes the znodes workload `w` needs and returns its operation.
async fn setup(w: Workload, args: &BenchArgs, clients: &[Client]) -> Result<Ctx, String> {
    let c = clients.first().ok_or("no sessions")?;
    let e = |e: Error| e.to_string();
    ensure(c, ROOT).await.map_err(e)?;
    let value = vec![b'x'; args.value_size];
    let sessions = clients.len();
    let sub = |name: &str| format!("{ROOT}/{name}");
    let mut ctx = match w {
        Workload::Create => Ctx::new(Kind::Create, value.clone()),
        Workload::Set => Ctx::new(Kind::Set, value.clone()),
        Workload::Get => Ctx::new(Kind::Get, value.clone()),
        Workload::Exists => Ctx::new(Kind::Exists, value.clone()),
        Workload::Mixed => Ctx::new(Kind::Mixed, value.clone()),
        Workload::Multi => Ctx::new(Kind::Multi, value.clone()),
        Workload::Delete => Ctx::new(Kind::Delete, value.clone()),
        Workload::Children => Ctx::new(Kind::Children, value.clone()),
        Workload::Load => Ctx::new(Kind::Load, value.clone()),
        other => return Err(format!("{} is not a request workload", other.name())),
    };
    ctx.read_pct = u64::from(args.read_pct.min(100));
    match w {
        Workload::Create => {
            ensure(c, &sub("create")).await.map_err(e)?;
            ctx.prefix = format!("{ROOT}/create/{}-", run_tag());
        }
        Workload::Set | Workload::Get | Workload::Exists | Workload::Mixed => {
            ensure(c, &sub("data")).await.map_err(e)?;
            ctx.paths = (0..sessions).map(|s| format!("{ROOT}/data/s{s}")).collect();
            fill(clients, args, ctx.paths.clone(), value).await?;
        }
        Workload::Multi => {
            ensure(c, &sub("multi")).await.map_err(e)?;
            let m = args.multi_ops.max(1);
            ctx.multi = (0..sessions)
                .map(|s| (0..m).map(|k| format!("{ROOT}/multi/s{s}-{k}")).collect())
                .collect();
            fill(clients, args, ctx.multi.concat(), value).await?;
        }
        Workload::Delete => {
            ensure(c, &sub("delete")).await.map_err(e)?;
            let pool = args.ops.unwrap_or(50_000);
            let tag = run_tag();
            ctx.paths = (0..pool)
                .map(|i| format!("{ROOT}/delete/{tag}-{i}"))
                .collect();
            fill(clients, args, ctx.paths.clone(), value).await?;
        }
        Workload::Children => {
            ensure(c, &sub("wide")).await.map_err(e)?;
            let kids = (0..args.children)
                .map(|i| format!("{ROOT}/wide/c{i}"))
                .collect();
            fill(clients, args, kids, Vec::new()).await?;
        }
        Workload::Load => {
            ensure(c, &sub("load")).await.map_err(e)?;
            let parents = args.znodes.div_ceil(1000);
            let paths = (0..parents).map(|k| format!("{ROOT}/load/p{k}")).collect();
            fill(clients, args, paths, Vec::new()).await?;
        }
        _ => {}
    }
    Ok(ctx)
}

/// Runs request workload `w` and returns what it measured.
pub async fn run(w: Workload, args: &BenchArgs) -> Outcome {
    let mut failed = Outcome::new(w.name());
    let clients = match connect_all(&args.connect, args.sessions.max(1)).await {
        Ok(c) => c,
        Err(e) => {
            failed.fail(format!("connect: {e}"));
            return failed;
        }
    };
    let ctx = match setup(w, args, &clients).await {
        Ok(ctx) => ctx,
        Err(e) => {
            failed.fail(e);
            return failed;
        }
    };
    // Load counts znodes, not time; delete would spend its pool warming up (setup, which
    // created that pool on the same sessions, warmed the write path already).
    let lim = match w {
        Workload::Load => Limits {
            warmup: Duration::ZERO,
            duration: Duration::ZERO,
            ops: Some(args.znodes),
        },
        Workload::Delete => Limits {
            warmup: Duration::ZERO,
            duration: args.duration,
            ops: args.ops,
        },
        _ => Limits {
            warmup: args.warmup,
            duration: args.duration,
            ops: args.ops,
        },
    };
    let outstanding = args.outstanding.max(1);
    let ctx = Arc::new(ctx);
    let mut out = drive(w.name(), &clients, outstanding, ctx, lim, args.no_progress).await;
    close_all(clients).await;
    match w {
        Workload::Mixed => out.extra.push(("read_pct", Value::from(args.read_pct))),
        Workload::Multi => out.extra.push(("multi_ops", Value::from(args.multi_ops))),
        Workload::Children => out.extra.push(("children", Value::from(args.children))),
        Workload::Load => out.extra.push(("znodes", Value::from(args.znodes))),
        _ => {}
    }
    out
}
