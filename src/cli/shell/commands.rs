//! The shell's session and zkCli's commands.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use zookeeper_client::{
    Acl, Acls, AddWatchMode, Client, CreateMode, Error as ZkError, EventType, OneshotWatcher,
    PersistentWatcher, SaslOptions, SessionState, StateWatcher, TlsOptions, WatchedEvent,
};

use ferrokeeper::server::tls::client::ClientTls;

use super::format::{acl_lines, parse_acls, stat_lines, tokenize};

/// zkCli's command list, as `help` prints it.
const USAGES: &[(&str, &str)] = &[
    ("addWatch", "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"),
    ("addauth", "addauth scheme auth"),
    ("close", "close "),
    ("config", "config [-c] [-w] [-s]"),
    ("connect", "connect host:port"),
    ("create", "create [-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "delete [-v version] path"),
    ("deleteall", "deleteall path [-b batch size]"),
    ("get", "get [-s] [-w] path"),
    ("getAcl", "getAcl [-s] path"),
    ("getAllChildrenNumber", "getAllChildrenNumber path"),
    ("getEphemerals", "getEphemerals path"),
    ("help", "help "),
    ("ls", "ls [-s] [-w] [-R] path"),
    ("quit", "quit "),
    ("reconfig", "reconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]"),
    ("removewatches", "removewatches path [-c|-d|-a] [-l]"),
    ("set", "set [-s] [-v version] path data"),
    ("setAcl", "setAcl [-s] [-v version] [-R] path acl"),
    ("stat", "stat [-w] path"),
    ("sync", "sync path"),
    ("whoami", "whoami "),
];

fn usage(cmd: &str) -> String {
    USAGES
        .iter()
        .find(|(n, _)| *n == cmd)
        .map(|(_, u)| u.to_string())
        .unwrap_or_default()
}

fn help_text() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (_, u) in USAGES {
        s.push('\t');
        s.push_str(u);
        s.push('\n');
    }
    s
}

/// Kinds of watches the shell holds, keyed by path.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum WatchKind {
    Data,
    Child,
    Persistent,
}

struct WatchEntry {
    id: u64,
    abort: AbortHandle,
}

#[derive(Default)]
struct Watches {
    next_id: u64,
    entries: HashMap<(String, WatchKind), WatchEntry>,
}

type SharedWatches = Arc<Mutex<Watches>>;

fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::Session => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
    }
}

fn state_name(s: SessionState) -> &'static str {
    match s {
        SessionState::Disconnected => "Disconnected",
        SessionState::SyncConnected => "SyncConnected",
        SessionState::AuthFailed => "AuthFailed",
        SessionState::ConnectedReadOnly => "ConnectedReadOnly",
        SessionState::Expired => "Expired",
        SessionState::Closed => "Closed",
    }
}

fn print_event(state: &str, kind: &str, path: Option<&str>) {
    println!(
        "\nWATCHER::\n\nWatchedEvent state:{state} type:{kind} path:{}",
        path.unwrap_or("null")
    );
}

/// Node events recently printed: (type, path, watcher id, when). The Java client hands an event
/// to its one default watcher once even when several of its watches (data, child, persistent)
/// fired for it. The server's notifications carry no zxid, so an event counts as already printed
/// when another watcher printed the same type and path after this watcher's previous event (or
/// its registration, `since`) and only a moment ago: each watcher sees a notification only once.
type Printed = VecDeque<(&'static str, String, u64, Instant)>;
static PRINTED: Mutex<Printed> = Mutex::new(VecDeque::new());

fn print_node_event(e: &WatchedEvent, watcher: u64, since: Instant) {
    let kind = event_type_name(e.event_type);
    let now = Instant::now();
    {
        let mut printed = PRINTED.lock().unwrap();
        printed.retain(|p| now.duration_since(p.3) < Duration::from_millis(500));
        if printed
            .iter()
            .any(|p| p.0 == kind && p.1 == e.path && p.2 != watcher && p.3 > since)
        {
            return;
        }
        printed.push_back((kind, e.path.clone(), watcher, now));
    }
    print_event(
        state_name(e.session_state),
        event_type_name(e.event_type),
        Some(&e.path),
    );
}

/// A command's failure: the message zkCli prints.
struct CmdError(String);

type CmdResult = Result<(), CmdError>;

fn keeper_error(e: &ZkError, path: &str) -> CmdError {
    CmdError(match e {
        ZkError::NoNode => format!("Node does not exist: {path}"),
        ZkError::NodeExists => format!("Node already exists: {path}"),
        ZkError::BadVersion => format!("version No is not valid : {path}"),
        ZkError::NotEmpty => format!("Node not empty: {path}"),
        ZkError::NoAuth => format!("Insufficient permission : {path}"),
        ZkError::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        ZkError::InvalidAcl => {
            format!("KeeperErrorCode = InvalidACL for {path}\nAcl is not valid : {path}")
        }
        ZkError::NoWatcher => format!("KeeperErrorCode = No such watcher for {path}"),
        ZkError::ReconfigDisabled => "KeeperErrorCode = Reconfig is disabled".to_string(),
        ZkError::AuthFailed => format!("KeeperErrorCode = AuthFailed for {path}"),
        ZkError::SessionExpired => format!("KeeperErrorCode = Session expired for {path}"),
        ZkError::ConnectionLoss | ZkError::ClientClosed => {
            format!("KeeperErrorCode = ConnectionLoss for {path}")
        }
        ZkError::Unimplemented => format!("KeeperErrorCode = Unimplemented for {path}"),
        ZkError::QuotaExceeded => format!("KeeperErrorCode = Quota has exceeded : {path}"),
        ZkError::BadArguments(msg) => msg.to_string(),
        other => format!("{other}: {path}"),
    })
}

/// ReconfigCommand's failure text (CliWrapperException): ZooKeeperAdmin.reconfigure gives
/// its exceptions an empty path.
fn reconfig_error(e: &ZkError) -> CmdError {
    CmdError(match e {
        ZkError::NoAuth => "Insufficient permission : ".into(),
        ZkError::BadArguments(_) => "Arguments are not valid : ".into(),
        ZkError::BadVersion => "version No is not valid : ".into(),
        ZkError::UnexpectedErrorCode(-14) => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .into()
        }
        ZkError::UnexpectedErrorCode(-13) => "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced".into(),
        ZkError::ReconfigDisabled => "KeeperErrorCode = Reconfig is disabled".into(),
        other => keeper_error(other, "").0,
    })
}

/// ReconfigCommand's arguments: `-add`/`-remove` (incremental) or `-members`/`-file`
/// (the whole new membership), `-v` (hex config version), `-s`.
#[derive(Default)]
struct ReconfigArgs {
    stat: bool,
    version: Option<i64>,
    add: Option<String>,
    remove: Option<String>,
    members: Option<String>,
    file: Option<String>,
}

impl ReconfigArgs {
    fn parse(argv: &[String]) -> Result<ReconfigArgs, CmdError> {
        let mut r = ReconfigArgs::default();
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| CmdError(format!("Missing argument for option: {}", &a[1..])))
            };
            match a.as_str() {
                "-s" => r.stat = true,
                "-v" => {
                    let v = value()?;
                    r.version = Some(i64::from_str_radix(&v, 16).map_err(|_| {
                        CmdError("-v must be followed by a long (configuration version)".into())
                    })?);
                }
                "-add" => r.add = Some(value()?.to_lowercase()),
                "-remove" => r.remove = Some(value()?.to_lowercase()),
                "-members" => r.members = Some(value()?.to_lowercase()),
                "-file" => r.file = Some(value()?),
                other => return Err(CmdError(format!("Unrecognized option: {other}"))),
            }
        }
        let whole = r.members.is_some() || r.file.is_some();
        let incremental = r.add.is_some() || r.remove.is_some();
        if !whole && !incremental {
            return Err(CmdError(usage("reconfig")));
        }
        if whole && incremental {
            return Err(CmdError("Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)".into()));
        }
        if r.members.is_some() && r.file.is_some() {
            return Err(CmdError(
                "Can't use -file and -members together (conflicting non-incremental modes)".into(),
            ));
        }
        if let Some(path) = &r.file {
            // The file's server lines become the members (its version line is dropped).
            // zkCli appends the FileInputStream's message: "<path> (<reason>)".
            let text = std::fs::read_to_string(path).map_err(|e| {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
                    std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
                    _ => e.to_string(),
                };
                CmdError(format!("Error processing {path}{path} ({reason})"))
            })?;
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("server."))
                .collect();
            r.members = Some(lines.join(","));
        }
        Ok(r)
    }
}

/// Parsed options of one command: flags seen, flag values, and positional arguments.
struct Opts {
    flags: Vec<char>,
    values: HashMap<char, String>,
    args: Vec<String>,
}

impl Opts {
    fn has(&self, f: char) -> bool {
        self.flags.contains(&f)
    }
}

/// Parses `argv` (without the command name) the way commons-cli does for zkCli: `bool_flags`
/// take no value, `value_flags` take one; options may come anywhere.
fn parse_opts(argv: &[String], bool_flags: &str, value_flags: &str) -> Result<Opts, ()> {
    let mut o = Opts {
        flags: Vec::new(),
        values: HashMap::new(),
        args: Vec::new(),
    };
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let mut chars = a.chars();
        if a.len() == 2 && chars.next() == Some('-') {
            let f = chars.next().unwrap_or(' ');
            if bool_flags.contains(f) {
                o.flags.push(f);
                continue;
            }
            if value_flags.contains(f) {
                let v = it.next().ok_or(())?;
                o.values.insert(f, v.clone());
                continue;
            }
            if !f.is_ascii_digit() {
                return Err(());
            }
        }
        o.args.push(a.clone());
    }
    Ok(o)
}

fn validate_path(path: &str) -> CmdResult {
    if !path.starts_with('/') {
        return Err(CmdError("Path must start with / character".into()));
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err(CmdError("Path must not end with / character".into()));
    }
    if path.contains("//") {
        return Err(CmdError(format!(
            "Invalid path string \"{path}\" caused by empty node name specified"
        )));
    }
    Ok(())
}

fn parse_version(o: &Opts, f: char) -> Result<Option<i32>, CmdError> {
    match o.values.get(&f) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| CmdError(format!("-{f} argument must be a number"))),
    }
}

fn join_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

fn data_text(data: &[u8]) -> String {
    if data.is_empty() {
        "null".to_string()
    } else {
        String::from_utf8_lossy(data).into_owned()
    }
}

pub struct Shell {
    rt: Handle,
    timeout_ms: u64,
    interactive: bool,
    host: String,
    client: Option<Client>,
    state: Option<StateWatcher>,
    state_task: Option<AbortHandle>,
    watches: SharedWatches,
    count: u64,
    /// A DIGEST-MD5 login `(username, password)` every connect uses.
    login: Option<(String, String)>,
    tls: Option<ClientTls>,
}

impl Shell {
    pub fn new(rt: Handle, timeout_ms: u64, interactive: bool) -> Shell {
        Shell {
            rt,
            timeout_ms,
            interactive,
            host: String::new(),
            client: None,
            state: None,
            state_task: None,
            watches: SharedWatches::default(),
            count: 0,
            login: None,
            tls: None,
        }
    }

    pub fn set_login(&mut self, login: Option<(String, String)>) {
        self.login = login;
    }

    pub fn set_tls(&mut self, tls: Option<ClientTls>) {
        self.tls = tls;
    }

    pub fn prompt(&self) -> String {
        let state = match &self.state {
            None => "CLOSED",
            Some(w) => match w.peek_state() {
                SessionState::SyncConnected => "CONNECTED",
                SessionState::ConnectedReadOnly => "CONNECTEDREADONLY",
                SessionState::Disconnected => "CONNECTING",
                SessionState::AuthFailed => "AUTH_FAILED",
                SessionState::Expired | SessionState::Closed => "CLOSED",
            },
        };
        format!("[zk: {}({state}) {}] ", self.host, self.count)
    }

    pub async fn connect(&mut self, server: &str) -> Result<(), String> {
        self.close(false).await;
        self.host = server.to_string();
        let mut connector = Client::connector()
            .with_session_timeout(Duration::from_millis(self.timeout_ms))
            .with_connection_timeout(Duration::from_millis(self.timeout_ms.min(10_000)));
        if let Some((user, password)) = &self.login {
            connector =
                connector.with_sasl(SaslOptions::digest_md5(user.clone(), password.clone()));
        }
        let connected = match &self.tls {
            Some(tls) => {
                connector = connector.with_tls(tls_options(tls)?);
                connector.secure_connect(server).await
            }
            None => connector.connect(server).await,
        };
        let client = connected.map_err(|e| format!("Unable to connect to {server}: {e}"))?;
        let state = client.state_watcher();
        if self.interactive {
            print_event("SyncConnected", "None", None);
            let mut sw = client.state_watcher();
            let task = self.rt.spawn(async move {
                loop {
                    let s = sw.changed().await;
                    if s == SessionState::Closed {
                        break;
                    }
                    print_event(state_name(s), "None", None);
                    if s.is_terminated() {
                        break;
                    }
                }
            });
            self.state_task = Some(task.abort_handle());
        }
        self.state = Some(state);
        self.client = Some(client);
        Ok(())
    }

    /// Closes the session (if any) and waits until the server confirmed it.
    pub async fn close(&mut self, announce: bool) {
        let Some(client) = self.client.take() else {
            return;
        };
        if let Some(t) = self.state_task.take() {
            t.abort();
        }
        let entries: Vec<_> = self.watches.lock().unwrap().entries.drain().collect();
        for (_, e) in entries {
            e.abort.abort();
        }
        drop(client);
        if let Some(mut sw) = self.state.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while !sw.state().is_terminated() {
                    sw.changed().await;
                }
            })
            .await;
        }
        if announce && self.interactive {
            print_event("Closed", "None", None);
        }
    }

    /// Runs one line of input. `None` means quit.
    pub async fn execute_line(&mut self, line: &str) -> Option<bool> {
        let argv = tokenize(line);
        if argv.is_empty() {
            return Some(true);
        }
        if argv[0] == "quit" || argv[0] == "exit" {
            return None;
        }
        self.count += 1;
        Some(self.execute(&argv).await)
    }

    /// Runs one command; prints its output or its error. Returns whether it succeeded.
    pub async fn execute(&mut self, argv: &[String]) -> bool {
        match self.dispatch(argv).await {
            Ok(()) => true,
            Err(CmdError(msg)) => {
                if !msg.is_empty() {
                    eprintln!("{msg}");
                }
                false
            }
        }
    }

    /// ReconfigCommand: prints the committed configuration (and its stat with `-s`).
    async fn reconfig(&mut self, argv: &[String]) -> CmdResult {
        let r = ReconfigArgs::parse(argv)?;
        let client = self.client()?;
        let split = |s: &Option<String>| -> Vec<String> {
            s.as_deref()
                .map(|v| v.split(',').map(str::to_string).collect())
                .unwrap_or_default()
        };
        let result = if let Some(members) = &r.members {
            let list = split(&Some(members.clone()));
            let update = zookeeper_client::EnsembleUpdate::New {
                ensemble: list.iter().map(String::as_str),
            };
            client.update_ensemble(update, r.version).await
        } else {
            let (add, remove) = (split(&r.add), split(&r.remove));
            let update = zookeeper_client::EnsembleUpdate::Incremental {
                joinings: add.iter().map(String::as_str),
                leavings: remove.iter().map(String::as_str),
            };
            client.update_ensemble(update, r.version).await
        };
        let (data, stat) = result.map_err(|e| reconfig_error(&e))?;
        println!(
            "Committed new configuration:\n{}",
            String::from_utf8_lossy(&data)
        );
        if r.stat {
            print!("{}", stat_lines(&stat));
        }
        Ok(())
    }

    fn client(&self) -> Result<&Client, CmdError> {
        self.client
            .as_ref()
            .ok_or_else(|| CmdError("Not connected".into()))
    }

    async fn dispatch(&mut self, argv: &[String]) -> CmdResult {
        let cmd = argv[0].as_str();
        let rest = &argv[1..];
        let spec: (&str, &str) = match cmd {
            "reconfig" => return self.reconfig(rest).await,
            "ls" => ("swR", ""),
            "get" => ("sw", ""),
            "set" => ("s", "v"),
            "create" => ("sec", "t"),
            "delete" => ("", "v"),
            "deleteall" => ("", "b"),
            "stat" => ("w", ""),
            "getAcl" => ("s", ""),
            "setAcl" => ("sR", "v"),
            "addWatch" => ("", "m"),
            "removewatches" => ("cdal", ""),
            "config" => ("cws", ""),
            "quit"
            | "exit"
            | "help"
            | "close"
            | "connect"
            | "addauth"
            | "sync"
            | "getEphemerals"
            | "getAllChildrenNumber"
            | "whoami" => ("", ""),
            _ => {
                print!("{}", help_text());
                return Err(CmdError(String::new()));
            }
        };
        let bad_usage = || CmdError(usage(cmd));
        let o = parse_opts(rest, spec.0, spec.1).map_err(|_| bad_usage())?;
        let a = &o.args;
        match cmd {
            "help" => {
                print!("{}", help_text());
                Ok(())
            }
            "close" => {
                self.close(true).await;
                Ok(())
            }
            "connect" => {
                let server = if a.is_empty() {
                    self.host.clone()
                } else {
                    a[0].clone()
                };
                self.connect(&server).await.map_err(CmdError)
            }
            "ls" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                self.ls(&o, path).await
            }
            "get" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                self.get(&o, path).await
            }
            "stat" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                self.stat(&o, path).await
            }
            "set" => {
                let [path, data] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                let version = parse_version(&o, 'v')?;
                let stat = self
                    .client()?
                    .set_data(path, data.as_bytes(), version)
                    .await
                    .map_err(|e| keeper_error(&e, path))?;
                if o.has('s') {
                    print!("{}", stat_lines(&stat));
                }
                Ok(())
            }
            "create" => self
                .create(&o)
                .await
                .map_err(|e| if e.0.is_empty() { bad_usage() } else { e }),
            "delete" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                let version = parse_version(&o, 'v')?;
                self.client()?
                    .delete(path, version)
                    .await
                    .map_err(|e| keeper_error(&e, path))
            }
            "deleteall" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                self.deleteall(path).await
            }
            "getAllChildrenNumber" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                let n = self
                    .client()?
                    .count_descendants_number(path)
                    .await
                    .map_err(|e| keeper_error(&e, path))?;
                println!("{n}");
                Ok(())
            }
            "getEphemerals" => {
                let path = a.first().map(String::as_str).unwrap_or("/");
                validate_path(path)?;
                let mut list = self
                    .client()?
                    .list_ephemerals(path)
                    .await
                    .map_err(|e| keeper_error(&e, path))?;
                list.sort();
                println!("[{}]", list.join(", "));
                Ok(())
            }
            "getAcl" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                let (acls, stat) = self
                    .client()?
                    .get_acl(path)
                    .await
                    .map_err(|e| keeper_error(&e, path))?;
                for acl in &acls {
                    print!("{}", acl_lines(acl));
                }
                if o.has('s') {
                    print!("{}", stat_lines(&stat));
                }
                Ok(())
            }
            "setAcl" => {
                let [path, acl] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                self.set_acl(&o, path, acl).await
            }
            "addauth" => {
                let (scheme, auth) = match a.as_slice() {
                    [s] => (s.as_str(), ""),
                    [s, x] => (s.as_str(), x.as_str()),
                    _ => return Err(bad_usage()),
                };
                self.client()?
                    .auth(scheme, auth.as_bytes())
                    .await
                    .map_err(|e| keeper_error(&e, "/"))
            }
            "sync" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                match self.client()?.sync(path).await {
                    Ok(()) | Err(ZkError::NoNode) => {
                        println!("Sync is OK");
                        Ok(())
                    }
                    Err(e) => Err(keeper_error(&e, path)),
                }
            }
            "config" => {
                let (data, stat) = self
                    .client()?
                    .get_config()
                    .await
                    .map_err(|e| keeper_error(&e, "/zookeeper/config"))?;
                let text = String::from_utf8_lossy(&data);
                if !text.is_empty() {
                    println!("{text}");
                }
                if o.has('s') {
                    print!("{}", stat_lines(&stat));
                }
                Ok(())
            }
            "whoami" => {
                let users = self
                    .client()?
                    .list_auth_users()
                    .await
                    .map_err(|e| keeper_error(&e, "/"))?;
                println!("Auth scheme: User");
                for u in users {
                    println!("{}: {}", u.scheme(), u.user());
                }
                Ok(())
            }
            "addWatch" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                let mode = match o.values.get(&'m').map(String::as_str) {
                    None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
                    Some("PERSISTENT") => AddWatchMode::Persistent,
                    Some(_) => return Err(bad_usage()),
                };
                validate_path(path)?;
                let w = self
                    .client()?
                    .watch(path, mode)
                    .await
                    .map_err(|e| keeper_error(&e, path))?;
                self.keep_persistent(path, w);
                Ok(())
            }
            "removewatches" => {
                let [path] = a.as_slice() else {
                    return Err(bad_usage());
                };
                validate_path(path)?;
                self.remove_watches(&o, path).await
            }
            _ => Err(bad_usage()),
        }
    }

    async fn ls(&self, o: &Opts, path: &str) -> CmdResult {
        validate_path(path)?;
        let client = self.client()?;
        if o.has('R') {
            // zkCli's ZKUtil.listSubTreeBFS: breadth first, then printed in that order.
            client
                .check_stat(path)
                .await
                .map_err(|e| keeper_error(&e, path))?
                .ok_or_else(|| keeper_error(&ZkError::NoNode, path))?;
            let mut queue = VecDeque::from([path.to_string()]);
            let mut all = Vec::new();
            while let Some(node) = queue.pop_front() {
                let mut children = match client.list_children(&node).await {
                    Ok(c) => c,
                    Err(ZkError::NoNode) => continue,
                    Err(e) => return Err(keeper_error(&e, &node)),
                };
                children.sort();
                for c in children {
                    queue.push_back(join_path(&node, &c));
                }
                all.push(node);
            }
            for p in all {
                println!("{p}");
            }
            return Ok(());
        }
        let (mut children, stat) = if o.has('w') {
            let (c, stat, w) = client
                .get_and_watch_children(path)
                .await
                .map_err(|e| keeper_error(&e, path))?;
            self.keep_oneshot(path, WatchKind::Child, w);
            (c, stat)
        } else {
            client
                .get_children(path)
                .await
                .map_err(|e| keeper_error(&e, path))?
        };
        children.sort();
        println!("[{}]", children.join(", "));
        if o.has('s') {
            print!("{}", stat_lines(&stat));
        }
        Ok(())
    }

    async fn get(&self, o: &Opts, path: &str) -> CmdResult {
        validate_path(path)?;
        let client = self.client()?;
        let (data, stat) = if o.has('w') {
            let (d, s, w) = client
                .get_and_watch_data(path)
                .await
                .map_err(|e| keeper_error(&e, path))?;
            self.keep_oneshot(path, WatchKind::Data, w);
            (d, s)
        } else {
            client
                .get_data(path)
                .await
                .map_err(|e| keeper_error(&e, path))?
        };
        println!("{}", data_text(&data));
        if o.has('s') {
            print!("{}", stat_lines(&stat));
        }
        Ok(())
    }

    async fn stat(&self, o: &Opts, path: &str) -> CmdResult {
        validate_path(path)?;
        let client = self.client()?;
        let stat = if o.has('w') {
            let (s, w) = client
                .check_and_watch_stat(path)
                .await
                .map_err(|e| keeper_error(&e, path))?;
            self.keep_oneshot(path, WatchKind::Data, w);
            s
        } else {
            client
                .check_stat(path)
                .await
                .map_err(|e| keeper_error(&e, path))?
        };
        let stat = stat.ok_or_else(|| keeper_error(&ZkError::NoNode, path))?;
        print!("{}", stat_lines(&stat));
        Ok(())
    }

    async fn create(&self, o: &Opts) -> CmdResult {
        let (path, data, acl) = match o.args.as_slice() {
            [p] => (p, None, None),
            [p, d] => (p, Some(d), None),
            [p, d, a] => (p, Some(d), Some(a)),
            _ => return Err(CmdError(String::new())),
        };
        let (seq, eph, cont) = (o.has('s'), o.has('e'), o.has('c'));
        let ttl = match o.values.get(&'t') {
            None => None,
            Some(t) => {
                if eph {
                    return Err(CmdError("TTLs cannot be used with Ephemeral znodes".into()));
                }
                if cont {
                    return Err(CmdError("TTLs cannot be used with Container znodes".into()));
                }
                match t.parse::<i64>() {
                    Ok(ms) if ms > 0 && ms <= 0xFF_FFFF_FFFF => Some(ms as u64),
                    _ => {
                        return Err(CmdError(
                            "ttl must be positive and cannot be larger than: 1099511627775".into(),
                        ))
                    }
                }
            }
        };
        if cont && (seq || eph) {
            return Err(CmdError(
                "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
                    .into(),
            ));
        }
        validate_path(path)?;
        let mode = match (seq, eph, cont) {
            (_, _, true) => CreateMode::Container,
            (true, true, _) => CreateMode::EphemeralSequential,
            (true, false, _) => CreateMode::PersistentSequential,
            (false, true, _) => CreateMode::Ephemeral,
            (false, false, _) => CreateMode::Persistent,
        };
        let acls: Vec<Acl> = match acl {
            Some(text) => {
                let mut warnings = Vec::new();
                let acls = parse_acls(text, &mut warnings);
                for w in warnings {
                    eprintln!("{w}");
                }
                acls
            }
            None => Acls::anyone_all().to_vec(),
        };
        let mut options = mode.with_acls(Acls::new(&acls));
        if let Some(ms) = ttl {
            options = options.with_ttl(Duration::from_millis(ms));
        }
        let data = data.map(String::as_bytes).unwrap_or_default();
        let (_, sequence) = self
            .client()?
            .create(path, data, &options)
            .await
            .map_err(|e| keeper_error(&e, path))?;
        if seq {
            println!("Created {path}{sequence}");
        } else {
            println!("Created {path}");
        }
        Ok(())
    }

    async fn deleteall(&self, path: &str) -> CmdResult {
        let client = self.client()?;
        // ZKUtil.deleteRecursive: list the subtree breadth first, delete from the deepest.
        let mut queue = VecDeque::from([path.to_string()]);
        let mut all = Vec::new();
        while let Some(node) = queue.pop_front() {
            let children = match client.list_children(&node).await {
                Ok(c) => c,
                Err(ZkError::NoNode) if node != path => continue,
                Err(e) => return Err(keeper_error(&e, &node)),
            };
            for c in children {
                queue.push_back(join_path(&node, &c));
            }
            all.push(node);
        }
        for node in all.iter().rev() {
            match client.delete(node, None).await {
                Ok(()) | Err(ZkError::NoNode) => {}
                Err(e) => return Err(keeper_error(&e, node)),
            }
        }
        Ok(())
    }

    async fn set_acl(&self, o: &Opts, path: &str, acl_text: &str) -> CmdResult {
        let client = self.client()?;
        let mut warnings = Vec::new();
        let acls = parse_acls(acl_text, &mut warnings);
        for w in warnings {
            eprintln!("{w}");
        }
        let version = parse_version(o, 'v')?;
        if o.has('R') {
            let mut queue = VecDeque::from([path.to_string()]);
            while let Some(node) = queue.pop_front() {
                let children = client
                    .list_children(&node)
                    .await
                    .map_err(|e| keeper_error(&e, &node))?;
                for c in children {
                    queue.push_back(join_path(&node, &c));
                }
                client
                    .set_acl(&node, &acls, version)
                    .await
                    .map_err(|e| keeper_error(&e, &node))?;
            }
            return Ok(());
        }
        let stat = client
            .set_acl(path, &acls, version)
            .await
            .map_err(|e| keeper_error(&e, path))?;
        if o.has('s') {
            print!("{}", stat_lines(&stat));
        }
        Ok(())
    }

    /// Keeps a one-shot watch (one per path and kind, like the Java client's default watcher) and
    /// prints its event when it fires.
    fn keep_oneshot(&self, path: &str, kind: WatchKind, watcher: OneshotWatcher) {
        let mut guard = self.watches.lock().unwrap();
        let key = (path.to_string(), kind);
        if guard.entries.contains_key(&key) {
            return;
        }
        guard.next_id += 1;
        let id = guard.next_id;
        let watches = self.watches.clone();
        let registered = Instant::now();
        let task = self.rt.spawn(async move {
            let event = watcher.changed().await;
            let mut guard = watches.lock().unwrap();
            if guard.entries.get(&key).map(|e| e.id) != Some(id) {
                return;
            }
            guard.entries.remove(&key);
            if event.event_type == EventType::Session {
                return;
            }
            // The Java client delivers one event to its one default watcher even when both a
            // data and a child watch fired (NodeDeleted).
            if event.event_type == EventType::NodeDeleted {
                let other = match key.1 {
                    WatchKind::Data => WatchKind::Child,
                    _ => WatchKind::Data,
                };
                if let Some(e) = guard.entries.remove(&(key.0.clone(), other)) {
                    e.abort.abort();
                }
            }
            print_node_event(&event, id, registered);
        });
        guard.entries.insert(
            (path.to_string(), kind),
            WatchEntry {
                id,
                abort: task.abort_handle(),
            },
        );
    }

    fn keep_persistent(&self, path: &str, mut watcher: PersistentWatcher) {
        let mut guard = self.watches.lock().unwrap();
        guard.next_id += 1;
        let id = guard.next_id;
        let mut since = Instant::now();
        let task = self.rt.spawn(async move {
            loop {
                let event = watcher.changed().await;
                if event.event_type == EventType::Session {
                    if event.session_state.is_terminated() {
                        break;
                    }
                    continue;
                }
                print_node_event(&event, id, since);
                since = Instant::now();
            }
        });
        if let Some(old) = guard.entries.insert(
            (path.to_string(), WatchKind::Persistent),
            WatchEntry {
                id,
                abort: task.abort_handle(),
            },
        ) {
            old.abort.abort();
        }
    }

    async fn remove_watches(&self, o: &Opts, path: &str) -> CmdResult {
        // Events already on their way (a write just before) are delivered first, as in Java.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let kinds: &[(WatchKind, &str)] = if o.has('c') {
            &[(WatchKind::Child, "ChildWatchRemoved")]
        } else if o.has('d') {
            &[(WatchKind::Data, "DataWatchRemoved")]
        } else {
            &[
                (WatchKind::Child, "ChildWatchRemoved"),
                (WatchKind::Data, "DataWatchRemoved"),
                (WatchKind::Persistent, "PersistentWatchRemoved"),
            ]
        };
        let mut removed = Vec::new();
        {
            let mut guard = self.watches.lock().unwrap();
            for (kind, name) in kinds {
                if let Some(e) = guard.entries.remove(&(path.to_string(), *kind)) {
                    e.abort.abort();
                    removed.push(*name);
                }
            }
        }
        if removed.is_empty() {
            return Err(keeper_error(&ZkError::NoWatcher, path));
        }
        for name in removed {
            print_event("SyncConnected", name, Some(path));
        }
        Ok(())
    }
}

/// The crate's TLS options for a secure client; rustls' provider is ring, as the server's.
fn tls_options(tls: &ClientTls) -> Result<TlsOptions, String> {
    // Two providers are compiled in (the client crate brings aws-lc-rs), so rustls has no
    // default: name ring once, as the server uses (see server/tls/mod.rs on deprecation).
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bad = |e: zookeeper_client::Error| format!("TLS settings: {e}");
    let mut o = TlsOptions::new().with_pem_ca(&tls.ca_pem).map_err(bad)?;
    if let Some((cert, key)) = &tls.identity {
        o = o.with_pem_identity(cert, key).map_err(bad)?;
    }
    if !tls.hostname_verification {
        // SAFETY: not memory safety: the operator turned the check off
        // (zookeeper.ssl.hostnameVerification=false), as the Java client allows.
        o = unsafe { o.with_no_hostname_verification() };
    }
    Ok(o)
}
