//! `ferrokeeper cli`: a zkCli-compatible shell (interactive with history and line editing, or
//! one command and exit), built on the `zookeeper-client` crate.

mod commands;
mod format;

use std::io::IsTerminal;
use std::process::ExitCode;

use commands::Shell;

/// Arguments of `ferrokeeper cli`, parsed the zkCli way (`-server HOST:PORT[,...][/chroot]`,
/// `-timeout MS`, then an optional command and its arguments). Java system properties come
/// from `CLIENT_JVMFLAGS`/`JVMFLAGS` or `-Dkey=value` arguments: a SASL login is taken from
/// the JAAS file they name, and TLS from `zookeeper.client.secure=true` and the
/// `zookeeper.ssl.*` stores, as the Java client takes them.
#[derive(clap::Args)]
pub struct ShellArgs {
    /// `-server HOST:PORT[,HOST:PORT][/chroot] [-timeout MS] [command args...]`
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    args: Vec<String>,
}

pub fn run(args: ShellArgs) -> ExitCode {
    let mut server = "localhost:2181".to_string();
    let mut timeout_ms: u64 = 30_000;
    let mut rest = args.args.into_iter().peekable();
    let mut command = Vec::new();
    // System properties as zkCli.sh hands them to the JVM: CLIENT_JVMFLAGS and JVMFLAGS,
    // then -Dkey=value before the command.
    let mut props = std::collections::BTreeMap::new();
    for var in ["JVMFLAGS", "CLIENT_JVMFLAGS"] {
        let flags = std::env::var(var).unwrap_or_default();
        for f in flags.split_whitespace().filter(|f| f.starts_with("-D")) {
            if let Some((k, v)) = f[2..].split_once('=') {
                props.insert(k.to_string(), v.to_string());
            }
        }
    }
    while let Some(a) = rest.next() {
        match a.as_str() {
            d if d.starts_with("-D") && command.is_empty() => {
                match ferrokeeper::config::parse_system_property_args(std::slice::from_ref(&a)) {
                    Ok(kv) => props.extend(kv),
                    Err(e) => return usage_error(&e.to_string()),
                }
            }
            "-server" | "--server" if command.is_empty() => match rest.next() {
                Some(s) => server = s,
                None => return usage_error("-server needs HOST:PORT"),
            },
            "-timeout" | "--timeout" if command.is_empty() => {
                match rest.next().and_then(|t| t.parse().ok()) {
                    Some(t) => timeout_ms = t,
                    None => return usage_error("-timeout needs milliseconds"),
                }
            }
            _ => command.push(a),
        }
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrokeeper cli: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // A SASL login as the Java client finds one (JAAS `Client` section, DIGEST-MD5).
    let login = match ferrokeeper::config::client_login(&props) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ferrokeeper cli: {e}");
            return ExitCode::from(1);
        }
    };
    // TLS as the Java client takes it (zookeeper.client.secure, zookeeper.ssl.*).
    let tls = match ferrokeeper::server::tls::client::client_tls(&props) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ferrokeeper cli: {e}");
            return ExitCode::from(1);
        }
    };
    let interactive = command.is_empty();
    let mut shell = Shell::new(rt.handle().clone(), timeout_ms, interactive);
    shell.set_login(login);
    shell.set_tls(tls);
    if interactive {
        println!("Connecting to {server}");
        println!("Welcome to ZooKeeper!");
    }
    if let Err(e) = rt.block_on(shell.connect(&server)) {
        eprintln!("{e}");
        if !interactive {
            return ExitCode::from(1);
        }
    }
    let code = if interactive {
        interactive_loop(&rt, &mut shell)
    } else {
        let ok = rt.block_on(shell.execute(&command));
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    };
    rt.block_on(shell.close(interactive));
    code
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("ferrokeeper cli: {msg}");
    eprintln!("usage: ferrokeeper cli [-Dkey=value ...] -server HOST:PORT[,HOST:PORT][/chroot] [-timeout MS] [command args...]");
    ExitCode::from(2)
}

fn history_file() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".ferrokeeper_cli_history"))
}

fn interactive_loop(rt: &tokio::runtime::Runtime, shell: &mut Shell) -> ExitCode {
    let mut last_ok = true;
    if !std::io::stdin().is_terminal() {
        // Scripted: plain lines from stdin, no prompt, no editing.
        let mut line = String::new();
        loop {
            line.clear();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            match rt.block_on(shell.execute_line(&line)) {
                Some(ok) => last_ok = ok,
                None => break,
            }
        }
        return if last_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ferrokeeper cli: cannot start line editing: {e}");
            return ExitCode::from(1);
        }
    };
    let history = history_file();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    loop {
        let prompt = shell.prompt();
        match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if rt.block_on(shell.execute_line(&line)).is_none() {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    ExitCode::SUCCESS
}
