//! The client-facing server: listener, connections, the core, four-letter words.

pub mod conn;
pub mod core;
pub mod fourlw;
pub mod frame;
mod requests;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::server::core::{Core, CoreMsg};
use crate::storage::MemLog;

/// Why the server could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The client port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Requests queued toward the core before connections wait.
const CORE_QUEUE: usize = 16_384;
/// A hard cap on connections, whatever maxClientCnxns says.
const MAX_CONNECTIONS: usize = 60_000;

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    cfg: Arc<Config>,
}

impl Server {
    /// Binds the client port.
    pub async fn bind(cfg: Config) -> Result<Server, ServerError> {
        let addr = format!("{}:{}", cfg.client_port_address, cfg.client_port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Server {
            listener,
            cfg: Arc::new(cfg),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends.
    pub async fn run(self) -> Result<(), ServerError> {
        let cfg = self.cfg;
        let (core_tx, core_rx) = mpsc::channel(CORE_QUEUE);
        let core = Core::new(cfg.clone(), Box::new(MemLog::default()));
        tokio::spawn(core_loop(core, core_rx));
        let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
        let mut next_conn: u64 = 1;
        tracing::info!(
            "serving clients on {}",
            self.listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default()
        );
        loop {
            let (stream, addr) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let ip = addr.ip();
            {
                let mut m = per_ip.lock().unwrap_or_else(|p| p.into_inner());
                let total: u32 = m.values().sum();
                let n = m.entry(ip).or_default();
                let max = cfg.max_client_cnxns;
                if (max > 0 && *n >= max) || total as usize >= MAX_CONNECTIONS {
                    tracing::warn!("Too many connections from {ip} - max is {max}");
                    drop(stream);
                    continue;
                }
                *n += 1;
            }
            let conn = next_conn;
            next_conn += 1;
            let (core_tx, cfg, per_ip) = (core_tx.clone(), cfg.clone(), per_ip.clone());
            tokio::spawn(async move {
                conn::serve(stream, conn, addr, core_tx, cfg).await;
                let mut m = per_ip.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(n) = m.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        m.remove(&ip);
                    }
                }
            });
        }
    }
}

async fn core_loop(mut core: Core, mut rx: mpsc::Receiver<CoreMsg>) {
    // Expiry is checked often so sessions end close to their tick boundary.
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let reap_ms = core.cfg.container_check_interval_ms.max(10);
    let mut reap = tokio::time::interval(Duration::from_millis(reap_ms));
    let mut batch = Vec::with_capacity(512);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, 512) => {
                if n == 0 {
                    break;
                }
                for m in batch.drain(..) {
                    core.handle(m);
                }
            }
            _ = tick.tick() => core.tick(),
            _ = reap.tick() => core.reap_containers(),
        }
        core.flush();
    }
}
