//! `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`.

use super::ServerSpec;

const FORM: &str =
    "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";

/// Parse the N of a `server.N` key.
pub fn parse_sid(n: &str) -> Result<u64, String> {
    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(sid) = n.parse() {
            return Ok(sid);
        }
    }
    Err(format!("server id \"{n}\" is not a number"))
}

/// Split `host:port[:...]`, with an IPv6 host in brackets (`[::1]:2888:3888`), as
/// ZooKeeper's `ConfigUtils.getHostAndPort` does. The host comes back without brackets.
fn host_and_ports(s: &str) -> Result<Vec<&str>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("IPv6 address \"{s}\" has no closing ]"))?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let mut parts = vec![host];
        if !after.is_empty() {
            let ports = after
                .strip_prefix(':')
                .ok_or_else(|| format!("expected : after the IPv6 address in \"{s}\""))?;
            parts.extend(ports.split(':'));
        }
        Ok(parts)
    } else {
        Ok(s.split(':').collect())
    }
}

fn server_port(what: &str, s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 && !s.trim().starts_with('+') => Ok(p),
        _ => Err(format!("{what} \"{s}\" is not a port number (1-65535)")),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Parse the value of `server.<sid>`.
pub fn parse(sid: u64, value: &str) -> Result<ServerSpec, String> {
    let mut halves = value.split(';');
    let server = halves.next().unwrap_or_default().trim();
    let client = halves.next().map(str::trim);
    if halves.next().is_some() {
        return Err(FORM.into());
    }
    if server.contains('|') {
        return Err("multiple addresses separated by | are not supported".into());
    }
    let parts = host_and_ports(server)?;
    if parts.len() < 3 || parts.len() > 4 {
        return Err(FORM.into());
    }
    let host = parts[0].trim();
    if host.is_empty() {
        return Err(format!("no host: {FORM}"));
    }
    let quorum_port = server_port("quorum port", parts[1])?;
    let election_port = server_port("election port", parts[2])?;
    if quorum_port == election_port {
        return Err("the quorum and election ports must be different".into());
    }
    let observer = match parts.get(3).map(|t| t.trim().to_ascii_lowercase()) {
        None => false,
        Some(t) if t == "participant" => false,
        Some(t) if t == "observer" => true,
        Some(t) => {
            return Err(format!(
                "unknown server type \"{t}\": expected participant or observer"
            ))
        }
    };
    let client_addr = match client {
        None => None,
        Some(c) => {
            let cparts = host_and_ports(c)?;
            let (chost, cport) = match cparts.as_slice() {
                [port] => ("0.0.0.0", *port),
                [h, port] if !h.trim().is_empty() => (h.trim(), *port),
                _ => {
                    return Err(format!(
                        "client address \"{c}\": expected [clientHost:]clientPort"
                    ))
                }
            };
            let cport = server_port("client port", cport)?;
            Some(format!("{}:{cport}", bracket(chost)))
        }
    };
    Ok(ServerSpec {
        sid,
        host: host.to_string(),
        quorum_port,
        election_port,
        observer,
        client_addr,
    })
}

/// Split a `ServerSpec::client_addr` (`host:port` or `[v6]:port`) into host and port.
pub fn split_client_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host.to_string(), port.parse().ok()?))
}
