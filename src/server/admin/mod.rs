//! ZooKeeper's AdminServer: `GET <commandURL>/<command>` answers JSON with ZooKeeper 3.8's
//! command names and fields; `GET <commandURL>` lists the commands. Configured by
//! `admin.enableServer`, `admin.serverAddress`, `admin.serverPort` and `admin.commandURL`.
//! A port that cannot be bound is logged and the server goes on without it, as ZooKeeper does.

pub mod commands;
pub mod json;

use std::sync::Arc;

use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::server::core::CoreMsg;
use json::J;

/// `host:port`, with brackets around an IPv6 host.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let decoded = match (b[i], b.get(i + 1), b.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn json_response(body: J) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.pretty()).into_response()
}

/// Answers one request.
pub async fn handle(
    method: &Method,
    uri: &Uri,
    cfg: &Config,
    core: &mpsc::Sender<CoreMsg>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "HTTP method not allowed\n").into_response();
    }
    let base = cfg.admin_command_url.trim_end_matches('/');
    let path = uri.path();
    if path == base || path == format!("{base}/") {
        let mut html = String::new();
        for name in commands::listed() {
            html.push_str(&format!("<a href=\"{base}/{name}\">{name}</a>\n<br/>\n"));
        }
        return html.into_response();
    }
    let Some(name) = path.strip_prefix(&format!("{base}/")) else {
        return (StatusCode::NOT_FOUND, "Not Found\n").into_response();
    };
    let name = percent_decode(name);
    let Some(primary) = commands::resolve(&name) else {
        return json_response(json::obj([
            ("command", J::Str(name.clone())),
            ("error", J::Str(format!("Unknown command: {name}"))),
        ]));
    };
    let query = parse_query(uri.query());
    match commands::run(primary, &query, cfg, core).await {
        Ok(mut fields) => {
            fields.push(("command".into(), J::from(primary)));
            fields.push(("error".into(), J::Null));
            json_response(J::Obj(fields))
        }
        Err(e) => json_response(json::obj([
            ("error", J::Str(e)),
            ("command", J::from(primary)),
        ])),
    }
}

/// Starts the AdminServer if enabled.
pub async fn start(cfg: Arc<Config>, core: mpsc::Sender<CoreMsg>) {
    if !cfg.admin_enable_server {
        return;
    }
    let addr = join_host_port(&cfg.admin_server_address, cfg.admin_server_port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("Problem starting AdminServer on {addr}: {e}; continuing without it");
            return;
        }
    };
    tracing::info!(
        "Started AdminServer on address {}, port {} and command URL {}",
        cfg.admin_server_address,
        listener
            .local_addr()
            .map_or(cfg.admin_server_port, |a| a.port()),
        cfg.admin_command_url
    );
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri| {
        let (cfg, core) = (cfg.clone(), core.clone());
        async move { handle(&method, &uri, &cfg, &core).await }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("AdminServer stopped: {e}");
        }
    });
}
