//! Tests of the quorum wire formats: golden bytes from a real ZooKeeper 3.8 ensemble,
//! malformed and oversized input, and property round trips.

mod golden;
mod malformed;
mod props;
mod stream;

use std::path::PathBuf;

/// One line of tests/golden/quorum/MANIFEST.
pub(super) struct Entry {
    pub(super) file: String,
    pub(super) kind: String,
    pub(super) r#type: i32,
    pub(super) zxid: i64,
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/quorum")
}

pub(super) fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(golden_dir().join("MANIFEST")).expect("MANIFEST");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "bad manifest line {l:?}");
            let zxid = u64::from_str_radix(f[3].trim_start_matches("0x"), 16).expect("zxid");
            Entry {
                file: f[0].to_string(),
                kind: f[1].to_string(),
                r#type: f[2].parse().expect("type"),
                zxid: zxid as i64,
            }
        })
        .collect()
}

pub(super) fn golden(file: &str) -> Vec<u8> {
    let path = golden_dir().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
