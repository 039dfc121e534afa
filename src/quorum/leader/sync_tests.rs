//! The table in testdata/sync_choice.txt, run through [`plan_sync`].

use super::sync::*;
use crate::quorum::Zxid;

const TABLE: &str = include_str!("testdata/sync_choice.txt");
const TXN_BYTES: u64 = 100;

fn zxid(s: &str) -> Zxid {
    if s == "-1" {
        return Zxid(-1);
    }
    let (e, c) = s.split_once('.').unwrap_or_else(|| panic!("bad zxid {s}"));
    Zxid::new(e.parse().expect("epoch"), c.parse().expect("counter"))
}

fn zxids(s: &str) -> Vec<Zxid> {
    if s == "-" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in s.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (zxid(a), zxid(b));
                assert_eq!(a.epoch(), b.epoch(), "a range stays in one epoch: {item}");
                out.extend((a.counter()..=b.counter()).map(|c| Zxid::new(a.epoch(), c)));
            }
            None => out.push(zxid(item)),
        }
    }
    out
}

/// Log files in order, each a list of zxids, and the newest snapshot's size;
/// FileTxnLog.read(zxid, false) semantics.
struct Disk {
    files: Vec<Vec<Zxid>>,
    snap: u64,
}

impl TxnLogView for Disk {
    fn read_from(&self, z: Zxid) -> Option<TxnLogRead> {
        if self.files.is_empty() {
            return None;
        }
        // FileTxnIterator.init: files starting at or after z, plus the newest one before z;
        // the first of them is open once read returns, and no longer counted.
        let start = (self.files.iter()).rposition(|f| f[0] < z).unwrap_or(0);
        let files = &self.files[start..];
        Some(TxnLogRead {
            zxids: files.iter().flatten().copied().collect(),
            storage_size: files[1..].iter().map(|f| f.len() as u64 * TXN_BYTES).sum(),
        })
    }
    fn snapshot_size(&self) -> u64 {
        self.snap
    }
}

fn show(plan: &SyncPlan) -> String {
    let kind = match plan.kind {
        SyncKind::Diff => "DIFF",
        SyncKind::Trunc => "TRUNC",
        SyncKind::Snap => "SNAP",
    };
    let z = |z: Zxid| {
        if z.0 == -1 {
            "-1".to_owned()
        } else {
            format!("{}.{}", z.epoch(), z.counter())
        }
    };
    let mut s = format!("{kind} {}", z(plan.zxid));
    if !plan.stream.is_empty() {
        let parts: Vec<String> = (plan.stream.iter())
            .map(|r| {
                let src = if r.source == LogSource::CommittedLog {
                    "c"
                } else {
                    "t"
                };
                format!("{src}({},{}]", z(r.after), z(r.upto))
            })
            .collect();
        s += &format!(" stream={}", parts.join("+"));
    }
    s + &format!(" fwd={}", z(plan.forward_from))
}

#[test]
fn sync_choice_table() {
    let mut rows = 0;
    for (n, line) in TABLE.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (input, want) = line.split_once("=>").expect("=> in every row");
        let mut peer = None;
        let mut processed = None;
        let mut committed = Vec::new();
        let mut files = Vec::new();
        let (mut snap, mut factor, mut force) = (1_000_000u64, 0.33f64, false);
        for kv in input.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
            match k {
                "peer" => peer = Some(zxid(v)),
                "processed" => processed = Some(zxid(v)),
                "committed" => committed = zxids(v),
                "disk" => files = v.split('|').map(zxids).collect(),
                "snap" => snap = v.parse().expect("snap"),
                "factor" => factor = v.parse().expect("factor"),
                "force" => force = v == "1",
                _ => panic!("line {}: unknown key {k}", n + 1),
            }
        }
        let disk = Disk { files, snap };
        let log = LogState {
            last_processed_zxid: processed.expect("processed"),
            committed_log: &committed,
            txn_log: &disk,
            snapshot_size_factor: factor,
            force_snap_sync: force,
        };
        let got = show(&plan_sync(peer.expect("peer"), &log));
        assert_eq!(got, want.trim(), "line {}: {line}", n + 1);
        rows += 1;
    }
    assert!(rows >= 25, "only {rows} rows");
}
