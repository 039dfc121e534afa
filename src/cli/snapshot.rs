//! `ferrokeeper snapshot import|export|dump`: moving data between Apache ZooKeeper data
//! directories (`version-2/snapshot.*`, `log.*`) and Ferrokeeper's (RocksDB) ones.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use ferrokeeper::pipeline::apply::apply;
use ferrokeeper::proto::{EphemeralType, TxnEntry};
use ferrokeeper::storage::epoch::{
    read_epoch_file, write_epoch_file, ACCEPTED_EPOCH, CURRENT_EPOCH,
};
use ferrokeeper::storage::rocks::RocksStore;
use ferrokeeper::storage::zk::{
    empty_tree, read_data_dirs, read_snapshot, write_data_dir_with_epochs, write_snapshot,
    zxid_follows, ZkEpochs, VERSION_DIR,
};
use ferrokeeper::tree::DataTree;

/// The `snapshot` subcommands.
#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Imports a ZooKeeper data directory (its newest valid snapshot and every txn after it,
    /// chosen by ZooKeeper's restore rules) into an empty Ferrokeeper data directory.
    Import {
        /// ZooKeeper's dataDir (holding version-2/).
        zk_data_dir: PathBuf,
        /// The Ferrokeeper data directory (created if needed; must hold no data).
        fk_data_dir: PathBuf,
        /// ZooKeeper's dataLogDir, when the logs are not in dataDir.
        #[arg(long)]
        zk_data_log_dir: Option<PathBuf>,
        /// Ferrokeeper's dataLogDir, when its txn log lives apart from dataDir.
        #[arg(long)]
        fk_data_log_dir: Option<PathBuf>,
        /// Whether 0xFF.. ephemeral owners are TTL nodes (zookeeper.extendedTypesEnabled).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        extended_types: bool,
    },
    /// Writes the latest snapshot and the txns after it as a ZooKeeper data directory
    /// (version-2/snapshot.<zxid> and log.<zxid>) that Apache ZooKeeper 3.8 starts from.
    Export {
        /// The Ferrokeeper data directory.
        fk_data_dir: PathBuf,
        /// The ZooKeeper dataDir to write (must hold no snapshot or log).
        zk_data_dir: PathBuf,
        /// Ferrokeeper's dataLogDir, when its txn log lives apart from dataDir.
        #[arg(long)]
        fk_data_log_dir: Option<PathBuf>,
        /// Write one snapshot of the current state (snapshot + txns replayed) and no log.
        #[arg(long)]
        compact: bool,
        /// Whether 0xFF.. ephemeral owners are TTL nodes (zookeeper.extendedTypesEnabled).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        extended_types: bool,
    },
    /// Prints every znode's stat, the sessions and counts (like zkSnapShotToolkit), as of the
    /// latest snapshot plus the txns after it.
    Dump {
        /// The Ferrokeeper data directory (with --zk: a ZooKeeper dataDir).
        data_dir: PathBuf,
        /// Read a ZooKeeper data directory instead.
        #[arg(long)]
        zk: bool,
        /// The dataLogDir (Ferrokeeper's or, with --zk, ZooKeeper's), when apart from dataDir.
        #[arg(long)]
        data_log_dir: Option<PathBuf>,
        /// Whether 0xFF.. ephemeral owners are TTL nodes (zookeeper.extendedTypesEnabled).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        extended_types: bool,
    },
}

/// Runs a `snapshot` subcommand; errors go to stderr.
pub fn run(cmd: SnapshotCommand) -> ExitCode {
    let r = match cmd {
        SnapshotCommand::Import {
            zk_data_dir,
            fk_data_dir,
            zk_data_log_dir,
            fk_data_log_dir,
            extended_types,
        } => import(
            &zk_data_dir,
            zk_data_log_dir.as_deref().unwrap_or(&zk_data_dir),
            &fk_data_dir,
            fk_data_log_dir.as_deref(),
            extended_types,
        ),
        SnapshotCommand::Export {
            fk_data_dir,
            zk_data_dir,
            fk_data_log_dir,
            compact,
            extended_types,
        } => export(
            &fk_data_dir,
            fk_data_log_dir.as_deref(),
            &zk_data_dir,
            compact,
            extended_types,
        ),
        SnapshotCommand::Dump {
            data_dir,
            zk,
            data_log_dir,
            extended_types,
        } => dump(&data_dir, data_log_dir.as_deref(), zk, extended_types),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrokeeper snapshot: {e}");
            ExitCode::from(1)
        }
    }
}

/// A snapshot (zxid, ZooKeeper-format bytes) and the txns after it.
struct Source {
    snapshot_zxid: i64,
    snapshot: Vec<u8>,
    txns: Vec<(i64, Vec<u8>)>,
}

/// The state a source restores to.
struct State {
    tree: DataTree,
    sessions: BTreeMap<i64, i32>,
    last_zxid: i64,
}

fn empty_snapshot(extended_types: bool) -> Vec<u8> {
    let mut b = Vec::new();
    write_snapshot(&empty_tree(extended_types), &[], 0, &mut b);
    b
}

fn from_zk(data: &Path, logs: &Path, extended_types: bool) -> Result<Source, String> {
    let zk = read_data_dirs(data, logs).map_err(|e| e.to_string())?;
    for (p, why) in &zk.skipped {
        eprintln!("warning: skipped damaged snapshot {}: {why}", p.display());
    }
    // No snapshot: ZooKeeper's own empty tree at zxid 0; read_data_dirs already checked that
    // the logs start at the first zxid.
    let (snapshot_zxid, snapshot) = zk
        .snapshot
        .unwrap_or_else(|| (0, empty_snapshot(extended_types)));
    Ok(Source {
        snapshot_zxid,
        snapshot,
        txns: zk.txns,
    })
}

/// A Ferrokeeper data directory: snapshots in dataDir, the txn log in dataLogDir (if set).
struct FkStore {
    data: RocksStore,
    log: Option<RocksStore>,
}

impl FkStore {
    fn open(data_dir: &Path, log_dir: Option<&Path>) -> Result<FkStore, String> {
        let data = RocksStore::open(data_dir).map_err(|e| e.to_string())?;
        let log = match log_dir {
            Some(d) if d != data_dir => Some(RocksStore::open(d).map_err(|e| e.to_string())?),
            _ => None,
        };
        Ok(FkStore { data, log })
    }

    fn log(&self) -> &RocksStore {
        self.log.as_ref().unwrap_or(&self.data)
    }
}

fn from_fk(fk: &FkStore, extended_types: bool) -> Result<Source, String> {
    let store = &fk.data;
    let (snapshot_zxid, snapshot) = match store.latest_snapshot().map_err(|e| e.to_string())? {
        Some(s) => s,
        None => (0, empty_snapshot(extended_types)),
    };
    let txns = fk
        .log()
        .txns_after(snapshot_zxid)
        .map_err(|e| e.to_string())?;
    Ok(Source {
        snapshot_zxid,
        snapshot,
        txns,
    })
}

/// The epoch files in a dataDir's `version-2/` (where ZooKeeper and Ferrokeeper both keep
/// them), those that exist.
fn read_epochs(data_dir: &Path) -> Result<ZkEpochs, String> {
    let v = data_dir.join(VERSION_DIR);
    let read = |name| read_epoch_file(&v.join(name)).map_err(|e| e.to_string());
    Ok(ZkEpochs {
        accepted: read(ACCEPTED_EPOCH)?,
        current: read(CURRENT_EPOCH)?,
    })
}

/// Loads the snapshot and applies the txns, checking that each decodes and follows the last.
fn replay(src: &Source, extended_types: bool) -> Result<State, String> {
    let (mut tree, sessions) = read_snapshot(&src.snapshot, extended_types)
        .map_err(|e| format!("snapshot 0x{:x}: {e}", src.snapshot_zxid))?;
    let mut sessions: BTreeMap<i64, i32> = sessions.into_iter().collect();
    tree.last_processed_zxid = src.snapshot_zxid;
    let mut last = src.snapshot_zxid;
    for (zxid, bytes) in &src.txns {
        if !zxid_follows(last, *zxid) {
            return Err(format!("zxid gap: 0x{last:x} is followed by 0x{zxid:x}"));
        }
        let e = TxnEntry::from_bytes(bytes).map_err(|e| format!("txn 0x{zxid:x}: {e}"))?;
        if e.header.zxid != *zxid {
            return Err(format!("txn 0x{zxid:x} carries zxid 0x{:x}", e.header.zxid));
        }
        let a = apply(&mut tree, &e.header, &e.txn);
        if let Some((id, timeout)) = a.session_created {
            sessions.insert(id, timeout);
        }
        if let Some(id) = a.session_closed {
            sessions.remove(&id);
        }
        last = *zxid;
    }
    Ok(State {
        tree,
        sessions,
        last_zxid: last,
    })
}

fn import(
    zk_dir: &Path,
    zk_log_dir: &Path,
    fk_dir: &Path,
    fk_log_dir: Option<&Path>,
    ext: bool,
) -> Result<(), String> {
    let src = from_zk(zk_dir, zk_log_dir, ext)?;
    let state = replay(&src, ext)?;
    let epochs = read_epochs(zk_dir)?;
    let fk = FkStore::open(fk_dir, fk_log_dir)?;
    let store = &fk.data;
    let has_data = store
        .latest_snapshot()
        .map_err(|e| e.to_string())?
        .is_some()
        || store.last_logged_zxid().map_err(|e| e.to_string())? > 0
        || fk.log().last_logged_zxid().map_err(|e| e.to_string())? > 0;
    if has_data {
        return Err(format!(
            "{} already holds Ferrokeeper data; import into an empty directory",
            fk_dir.display()
        ));
    }
    store
        .put_snapshot(src.snapshot_zxid, &src.snapshot)
        .map_err(|e| e.to_string())?;
    if !src.txns.is_empty() {
        fk.log()
            .append_txns(&src.txns, true)
            .map_err(|e| e.to_string())?;
    }
    // A quorum peer's epochs come along, into the same place in Ferrokeeper's dataDir.
    let v = fk_dir.join(VERSION_DIR);
    for (name, value) in [
        (ACCEPTED_EPOCH, epochs.accepted),
        (CURRENT_EPOCH, epochs.current),
    ] {
        if let Some(e) = value {
            std::fs::create_dir_all(&v).map_err(|e| format!("{}: {e}", v.display()))?;
            write_epoch_file(&v, name, e).map_err(|e| e.to_string())?;
            println!("imported {name} {e}");
        }
    }
    println!(
        "imported snapshot 0x{:x} and {} txns: {} znodes, {} sessions, last zxid 0x{:x}",
        src.snapshot_zxid,
        src.txns.len(),
        state.tree.node_count(),
        state.sessions.len(),
        state.last_zxid
    );
    Ok(())
}

fn export(
    fk_dir: &Path,
    fk_log_dir: Option<&Path>,
    zk_dir: &Path,
    compact: bool,
    ext: bool,
) -> Result<(), String> {
    let src = from_fk(&FkStore::open(fk_dir, fk_log_dir)?, ext)?;
    let state = replay(&src, ext)?;
    // The epochs a quorum peer recorded; those missing are derived from the last zxid.
    let epochs = read_epochs(fk_dir)?;
    let written = if compact {
        let sessions: Vec<(i64, i32)> = state.sessions.iter().map(|(k, v)| (*k, *v)).collect();
        let mut b = Vec::new();
        write_snapshot(&state.tree, &sessions, state.last_zxid, &mut b);
        write_data_dir_with_epochs(zk_dir, state.last_zxid, &b, &[], epochs)
    } else {
        write_data_dir_with_epochs(zk_dir, src.snapshot_zxid, &src.snapshot, &src.txns, epochs)
    }
    .map_err(|e| e.to_string())?;
    for p in written {
        println!("wrote {}", p.display());
    }
    println!(
        "exported {} znodes, {} sessions, last zxid 0x{:x}",
        state.tree.node_count(),
        state.sessions.len(),
        state.last_zxid
    );
    Ok(())
}

fn dump(dir: &Path, log_dir: Option<&Path>, zk: bool, ext: bool) -> Result<(), String> {
    let src = if zk {
        from_zk(dir, log_dir.unwrap_or(dir), ext)?
    } else {
        from_fk(&FkStore::open(dir, log_dir)?, ext)?
    };
    let state = replay(&src, ext)?;
    let mut out = String::new();
    // Output goes to a String: a closed pipe (`| head`) must not panic.
    macro_rules! o {
        ($($t:tt)*) => {{
            let _ = writeln!(out, $($t)*);
        }};
    }
    let nodes = state.tree.preorder();
    o!(
        "Snapshot 0x{:x} + {} txns",
        src.snapshot_zxid,
        src.txns.len()
    );
    o!("ZNode Details (count={}):", nodes.len());
    for (path, n) in &nodes {
        let s = &n.stat();
        o!("----\n{path}");
        o!("  cZxid = 0x{:x}", s.czxid);
        o!("  ctime = {}", time(s.ctime));
        o!("  mZxid = 0x{:x}", s.mzxid);
        o!("  mtime = {}", time(s.mtime));
        o!("  pZxid = 0x{:x}", s.pzxid);
        o!("  cversion = {}", s.cversion);
        o!("  dataVersion = {}", s.version);
        o!("  aclVersion = {}", s.aversion);
        o!("  ephemeralOwner = 0x{:x}", s.ephemeral_owner);
        o!("  dataLength = {}", n.data_len());
    }
    o!("----\nSession Details (sid, timeout, ephemeralCount):");
    for (id, timeout) in &state.sessions {
        let count = state.tree.ephemerals_of(*id).len();
        o!("0x{id:x}, {timeout}, {count}");
    }
    let kinds = nodes.iter().fold([0usize; 4], |mut k, (_, n)| {
        let i = match EphemeralType::of(n.ephemeral_owner(), ext) {
            EphemeralType::Void => 0,
            EphemeralType::Normal => 1,
            EphemeralType::Container => 2,
            EphemeralType::Ttl(_) => 3,
        };
        k[i] += 1;
        k
    });
    o!("----");
    o!("Last zxid: 0x{:x}", state.last_zxid);
    o!(
        "Counts: {} znodes ({} persistent, {} ephemeral, {} container, {} TTL), {} sessions, {} bytes of data",
        nodes.len(),
        kinds[0],
        kinds[1],
        kinds[2],
        kinds[3],
        state.sessions.len(),
        nodes
            .iter()
            .map(|(_, n)| n.data_len())
            .sum::<usize>()
    );
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(())
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
fn time(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = ferrokeeper::server::envinfo::civil_from_days(days);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fk-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn export_and_import_carry_the_epoch_files() {
        let (fk, zk, back) = (tmp("fk"), tmp("zk"), tmp("back"));
        drop(RocksStore::open(&fk).unwrap());
        let v = fk.join(VERSION_DIR);
        std::fs::create_dir_all(&v).unwrap();
        write_epoch_file(&v, ACCEPTED_EPOCH, 3).unwrap();
        write_epoch_file(&v, CURRENT_EPOCH, 2).unwrap();
        export(&fk, None, &zk, false, true).unwrap();
        let zv = zk.join(VERSION_DIR);
        assert_eq!(std::fs::read(zv.join(ACCEPTED_EPOCH)).unwrap(), b"3");
        assert_eq!(std::fs::read(zv.join(CURRENT_EPOCH)).unwrap(), b"2");
        import(&zk, &zk, &back, None, true).unwrap();
        let bv = back.join(VERSION_DIR);
        assert_eq!(std::fs::read(bv.join(ACCEPTED_EPOCH)).unwrap(), b"3");
        assert_eq!(std::fs::read(bv.join(CURRENT_EPOCH)).unwrap(), b"2");
        for d in [fk, zk, back] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
