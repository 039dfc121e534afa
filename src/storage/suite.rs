//! What every [`TxnLog`] backend must do, one function per behaviour. A backend's tests
//! run them all with [`backend_cases!`], which makes one `#[test]` of each.

use crate::storage::{StorageError, TxnLog};

/// How the suite gets at a backend.
pub(crate) trait Backend {
    /// A new, empty log (once per case).
    fn open(&mut self) -> Box<dyn TxnLog>;
    /// Closes `log` and opens its store again: only what was made durable comes back.
    fn reopen(&mut self, log: Box<dyn TxnLog>) -> Box<dyn TxnLog>;
}

/// One `#[test]` per suite case. `$make` is a `fn(&str) -> impl Backend` given the case's
/// name (for a directory of its own).
macro_rules! backend_cases {
    ($make:path) => {
        $crate::storage::suite::backend_cases!($make:
            appends_in_zxid_order,
            snapshots_and_purge,
            read_range_is_bounded,
            truncate_then_append,
            truncate_then_reopen,
            truncate_past_the_end_is_a_noop,
            truncate_drops_newer_snapshots,
            truncate_before_the_log_start_is_refused
        );
    };
    ($make:path: $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                $crate::storage::suite::$case(&mut $make(stringify!($case)));
            }
        )*
    };
}
pub(crate) use backend_cases;

/// Appends `zxids` (each entry is its zxid's low byte, repeated) and syncs.
fn fill(log: &mut dyn TxnLog, zxids: impl IntoIterator<Item = i64>) {
    for z in zxids {
        log.append(z, &entry(z)).unwrap();
    }
    log.sync().unwrap();
}

fn entry(z: i64) -> Vec<u8> {
    vec![z as u8; 1 + (z as usize % 7)]
}

/// The zxids the log holds.
fn zxids(log: &dyn TxnLog) -> Vec<i64> {
    log.read_from(0)
        .unwrap()
        .into_iter()
        .map(|(z, _)| z)
        .collect()
}

/// Zxids only grow; reads see entries after a zxid.
pub(crate) fn appends_in_zxid_order(b: &mut dyn Backend) {
    let mut log = b.open();
    assert_eq!(log.last_zxid(), 0);
    assert_eq!(log.first_zxid().unwrap(), None);
    log.append(1, b"a").unwrap();
    log.append(2, b"b").unwrap();
    assert!(log.append(2, b"dup").is_err(), "zxids only grow");
    log.sync().unwrap();
    assert_eq!(log.last_zxid(), 2);
    assert_eq!(log.first_zxid().unwrap(), Some(1));
    assert_eq!(log.read_from(1).unwrap(), vec![(2, b"b".to_vec())]);
    assert_eq!(log.read_from(0).unwrap().len(), 2);
    let log = b.reopen(log);
    assert_eq!(log.last_zxid(), 2);
    assert_eq!(zxids(&*log), vec![1, 2]);
}

/// Snapshots come back newest first and intact (a big one spans chunks); purge keeps the
/// log after the oldest kept snapshot, and the log's start moves with it.
pub(crate) fn snapshots_and_purge(b: &mut dyn Backend) {
    let mut log = b.open();
    fill(&mut *log, 1..=10);
    assert!(log.snapshot_zxids().unwrap().is_empty());
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    log.put_snapshot(4, b"four").unwrap();
    log.put_snapshot(6, &big).unwrap();
    log.put_snapshot(8, b"eight").unwrap();
    assert_eq!(log.snapshot_zxids().unwrap(), vec![8, 6, 4]);
    assert_eq!(log.get_snapshot(6).unwrap(), big);
    assert!(log.get_snapshot(5).is_err());
    assert_eq!(log.snapshot_len(6).unwrap(), big.len() as u64);
    assert_eq!(log.snapshot_len(8).unwrap(), 5);
    assert!(log.snapshot_len(5).is_err());
    log.purge(2).unwrap();
    assert_eq!(log.snapshot_zxids().unwrap(), vec![8, 6]);
    assert_eq!(zxids(&*log), vec![7, 8, 9, 10]);
    assert_eq!(log.first_zxid().unwrap(), Some(7));
    log.append(11, b"after purge").unwrap();
    log.sync().unwrap();
    assert_eq!(log.last_zxid(), 11);
    let log = b.reopen(log);
    assert_eq!(log.last_zxid(), 11);
    assert_eq!(log.snapshot_zxids().unwrap(), vec![8, 6]);
    assert_eq!(log.first_zxid().unwrap(), Some(7));
}

/// A DIFF reads the log in bounded chunks that add up to what `read_from` returns.
pub(crate) fn read_range_is_bounded(b: &mut dyn Backend) {
    let mut log = b.open();
    assert!(log.read_range(0, 10).unwrap().is_empty());
    fill(&mut *log, 1..=10);
    let range = |after, max| -> Vec<i64> {
        let got = log.read_range(after, max).unwrap();
        for (z, e) in &got {
            assert_eq!(e, &entry(*z), "entry 0x{z:x} intact");
        }
        got.into_iter().map(|(z, _)| z).collect()
    };
    assert_eq!(range(0, 3), vec![1, 2, 3]);
    assert_eq!(range(3, 3), vec![4, 5, 6]);
    assert_eq!(range(9, 5), vec![10]);
    assert_eq!(range(10, 5), Vec::<i64>::new());
    assert_eq!(range(0, 0), Vec::<i64>::new());
    assert_eq!(range(5, usize::MAX), vec![6, 7, 8, 9, 10]);
    // Chunk by chunk, from before the start, the whole log.
    let (mut after, mut all) = (-1, Vec::new());
    loop {
        let chunk = range(after, 4);
        let Some(last) = chunk.last() else { break };
        after = *last;
        all.extend(chunk);
    }
    assert_eq!(all, zxids(&*log));
    assert_eq!(all, (1..=10).collect::<Vec<_>>());
}

/// After a TRUNC the log ends at the truncation point and new appends continue from it,
/// even with zxids that were used before (the new leader's txns replace the old ones).
pub(crate) fn truncate_then_append(b: &mut dyn Backend) {
    let mut log = b.open();
    fill(&mut *log, 1..=10);
    log.truncate_after(6).unwrap();
    assert_eq!(log.last_zxid(), 6);
    assert_eq!(zxids(&*log), (1..=6).collect::<Vec<_>>());
    assert!(log.append(6, b"old").is_err(), "zxids still only grow");
    log.append(7, b"new seven").unwrap();
    log.append(0x1_0000_0001, b"next epoch").unwrap();
    log.sync().unwrap();
    let log = b.reopen(log);
    assert_eq!(log.last_zxid(), 0x1_0000_0001);
    assert_eq!(
        log.read_from(6).unwrap(),
        vec![
            (7, b"new seven".to_vec()),
            (0x1_0000_0001, b"next epoch".to_vec())
        ]
    );
}

/// A truncation is durable: the dropped txns do not come back after a reopen.
pub(crate) fn truncate_then_reopen(b: &mut dyn Backend) {
    let mut log = b.open();
    fill(&mut *log, 1..=10);
    log.truncate_after(4).unwrap();
    let mut log = b.reopen(log);
    assert_eq!(log.last_zxid(), 4);
    assert_eq!(zxids(&*log), vec![1, 2, 3, 4]);
    fill(&mut *log, [5]);
    assert_eq!(log.last_zxid(), 5);
}

/// Truncating at or past the last zxid changes nothing.
pub(crate) fn truncate_past_the_end_is_a_noop(b: &mut dyn Backend) {
    let mut log = b.open();
    log.truncate_after(0).unwrap();
    log.truncate_after(7).unwrap();
    assert_eq!(log.last_zxid(), 0);
    fill(&mut *log, 1..=5);
    log.put_snapshot(3, b"three").unwrap();
    log.truncate_after(5).unwrap();
    log.truncate_after(100).unwrap();
    let mut log = b.reopen(log);
    assert_eq!(log.last_zxid(), 5);
    assert_eq!(zxids(&*log), vec![1, 2, 3, 4, 5]);
    assert_eq!(log.snapshot_zxids().unwrap(), vec![3]);
    fill(&mut *log, [6]);
}

/// Snapshots taken after the truncation point hold txns the quorum dropped: they go too.
pub(crate) fn truncate_drops_newer_snapshots(b: &mut dyn Backend) {
    let mut log = b.open();
    fill(&mut *log, 1..=10);
    for z in [3, 5, 8] {
        log.put_snapshot(z, format!("snap {z}").as_bytes()).unwrap();
    }
    log.truncate_after(5).unwrap();
    assert_eq!(log.snapshot_zxids().unwrap(), vec![5, 3]);
    let log = b.reopen(log);
    assert_eq!(log.snapshot_zxids().unwrap(), vec![5, 3]);
    assert_eq!(log.get_snapshot(5).unwrap(), b"snap 5");
    assert_eq!(zxids(&*log), vec![1, 2, 3, 4, 5]);
}

/// A TRUNC to a point no kept snapshot or log entry can rebuild is refused, and nothing
/// changes; to a kept snapshot's zxid it works even if the whole log goes.
pub(crate) fn truncate_before_the_log_start_is_refused(b: &mut dyn Backend) {
    let mut log = b.open();
    fill(&mut *log, 1..=10);
    for z in [4, 6, 8] {
        log.put_snapshot(z, format!("snap {z}").as_bytes()).unwrap();
    }
    log.purge(2).unwrap();
    assert_eq!(zxids(&*log), vec![7, 8, 9, 10]);
    let refused = log.truncate_after(5);
    assert!(
        matches!(refused, Err(StorageError::Truncate(_))),
        "{refused:?}"
    );
    assert_eq!(zxids(&*log), vec![7, 8, 9, 10]);
    assert_eq!(log.snapshot_zxids().unwrap(), vec![8, 6]);
    log.truncate_after(6).unwrap();
    assert!(log.last_zxid() <= 6);
    let mut log = b.reopen(log);
    assert!(log.last_zxid() <= 6);
    assert_eq!(log.first_zxid().unwrap(), None);
    assert_eq!(log.snapshot_zxids().unwrap(), vec![6]);
    fill(&mut *log, [7]);
    assert_eq!(zxids(&*log), vec![7]);
}
