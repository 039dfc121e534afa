//! DiskTxnLog over the in-memory log.

use super::*;
use crate::quorum::leader::sync::{plan_sync, LogSource, LogState, SyncKind};
use crate::storage::MemLog;

const MIB64: u64 = 64 << 20;
/// Every test entry's length.
const ENTRY: usize = 40;

fn log_with(zxids: impl IntoIterator<Item = i64>, snapshots: &[(i64, usize)]) -> SharedLog {
    let mut mem = MemLog::default();
    for z in zxids {
        mem.append(z, &[7u8; ENTRY]).expect("append");
    }
    mem.sync().expect("sync");
    for &(z, len) in snapshots {
        mem.put_snapshot(z, &vec![1u8; len]).expect("snapshot");
    }
    SharedLog::new(Box::new(mem))
}

/// A file of `n` test entries as ZooKeeper would size it without padding.
fn unpadded(n: u64) -> u64 {
    FILE_HEADER_BYTES + n * (ENTRY as u64 + TXN_FRAMING_BYTES)
}

fn range(a: i64, b: i64) -> Vec<Zxid> {
    (a..=b).map(Zxid).collect()
}

#[test]
fn an_empty_log_has_nothing_to_read() {
    let log = log_with([], &[]);
    let view = DiskTxnLog::new(&log, MIB64);
    assert_eq!(view.read_from(Zxid(5)), None);
    assert_eq!(view.snapshot_size(), 0);
}

#[test]
fn within_one_file_the_read_weighs_nothing() {
    let log = log_with(1..=1200, &[]);
    let view = DiskTxnLog::new(&log, MIB64);
    let r = view.read_from(Zxid(300)).expect("read");
    assert_eq!(r.zxids, range(1, 1200));
    assert_eq!(r.storage_size, 0);
    // At the very first zxid there is no file before: the oldest is opened.
    let r = view.read_from(Zxid(1)).expect("read");
    assert_eq!((r.zxids[0], r.storage_size), (Zxid(1), 0));
}

#[test]
fn snapshots_roll_the_files_and_later_files_are_weighed() {
    // Files start at 1, 101 (after the snapshot at 100) and 201.
    let log = log_with(1..=250, &[(100, 3000), (200, 5000)]);
    let exact = DiskTxnLog::new(&log, 0);
    let r = exact.read_from(Zxid(150)).expect("read");
    assert_eq!(r.zxids, range(101, 250));
    assert_eq!(r.storage_size, unpadded(50));
    // A learner at a file's first zxid reads from the file before it (FileTxnIterator
    // takes the newest file that begins before the zxid).
    let r = exact.read_from(Zxid(101)).expect("read");
    assert_eq!(r.zxids, range(1, 250));
    assert_eq!(r.storage_size, unpadded(100) + unpadded(50));
    let r = exact.read_from(Zxid(230)).expect("read");
    assert_eq!((r.zxids.len(), r.storage_size), (50, 0));
    // Padded as ZooKeeper pads: each later file is at least preAllocSize.
    let padded = DiskTxnLog::new(&log, MIB64);
    assert_eq!(
        padded.read_from(Zxid(150)).expect("read").storage_size,
        MIB64
    );
    assert_eq!(
        padded.read_from(Zxid(50)).expect("read").storage_size,
        2 * MIB64
    );
    // The newest snapshot's length, without reading it.
    assert_eq!(padded.snapshot_size(), 5000);
}

#[test]
fn a_file_starts_at_the_first_txn_after_a_snapshot() {
    // Epoch 1 ends at 1.5 with a snapshot; epoch 2's first txn names the next file.
    let e1: Vec<i64> = (1..=5).map(|c| Zxid::new(1, c).0).collect();
    let e2: Vec<i64> = (1..=5).map(|c| Zxid::new(2, c).0).collect();
    let log = log_with(e1.iter().chain(&e2).copied(), &[(e1[4], 10)]);
    let view = DiskTxnLog::new(&log, 0);
    let r = view.read_from(Zxid::new(2, 3)).expect("read");
    assert_eq!(r.zxids.first(), Some(&Zxid::new(2, 1)));
    assert_eq!(r.storage_size, 0);
    let r = view.read_from(Zxid::new(2, 1)).expect("read");
    assert_eq!(r.zxids.first(), Some(&Zxid::new(1, 1)));
    assert_eq!(r.storage_size, unpadded(5));
}

#[test]
fn a_snapshot_with_nothing_after_it_starts_no_file() {
    let log = log_with(1..=10, &[(10, 100)]);
    let view = DiskTxnLog::new(&log, MIB64);
    let r = view.read_from(Zxid(5)).expect("read");
    assert_eq!((r.zxids.len(), r.storage_size), (10, 0));
}

#[test]
fn after_a_purge_the_log_starts_later() {
    let mut mem = MemLog::default();
    for z in 1..=30 {
        mem.append(z, &[0u8; ENTRY]).expect("append");
    }
    for s in [10, 20, 25] {
        mem.put_snapshot(s, b"snap").expect("snapshot");
    }
    mem.purge(2).expect("purge");
    let log = SharedLog::new(Box::new(mem));
    let view = DiskTxnLog::new(&log, 0);
    // The log starts at 21; a learner at 15 is not covered.
    let r = view.read_from(Zxid(15)).expect("read");
    assert_eq!(r.zxids.first(), Some(&Zxid(21)));
    let r = view.read_from(Zxid(23)).expect("read");
    assert_eq!(
        (r.zxids.first(), r.storage_size),
        (Some(&Zxid(21)), unpadded(5))
    );
}

#[test]
fn padding_follows_file_padding() {
    let mut f = FileLen::new(1 << 16);
    assert_eq!(f.finish(), 0);
    f.append(10);
    assert_eq!(f.finish(), 1 << 16);
    // Growing past the end less the 4 KiB margin pads by another preAllocSize.
    for _ in 0..1000 {
        f.append(60);
    }
    assert_eq!(f.finish(), 2 << 16);
    let mut none = FileLen::new(0);
    none.append(10);
    assert_eq!(none.finish(), FILE_HEADER_BYTES + 10 + TXN_FRAMING_BYTES);
}

/// What the leader decides with this view: a learner 1200 txns behind a 501-txn committed
/// log DIFFs from the txn log when its zxid is in the newest file, as ZooKeeper's does.
#[test]
fn the_sync_diffs_from_the_log_exactly_when_zookeeper_would() {
    let committed: Vec<Zxid> = range(700, 1200);
    let plan = |log: &SharedLog, factor: f64| {
        let view = DiskTxnLog::new(log, MIB64);
        let state = LogState {
            last_processed_zxid: Zxid(1200),
            committed_log: &committed,
            txn_log: &view,
            snapshot_size_factor: factor,
            force_snap_sync: false,
        };
        plan_sync(Zxid(100), &state)
    };
    let one_file = log_with(1..=1200, &[(0, 600)]);
    let p = plan(&one_file, 0.33);
    assert_eq!((p.kind, p.zxid), (SyncKind::Diff, Zxid(1200)));
    assert_eq!(p.stream[0].source, LogSource::TxnLog);
    assert_eq!(
        (p.stream[0].after, p.stream[0].upto),
        (Zxid(100), Zxid(700))
    );
    // A negative factor turns the txn log off.
    assert_eq!(plan(&one_file, -1.0).kind, SyncKind::Snap);
    // A snapshot since the learner's zxid rolled the log: the newer file (padded to
    // 64 MiB) outweighs 0.33 x a small snapshot.
    let rolled = log_with(1..=1200, &[(0, 600), (500, 600)]);
    assert_eq!(plan(&rolled, 0.33).kind, SyncKind::Snap);
}
