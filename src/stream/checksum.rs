//! The benchmark job's checksum sink: an order-free digest of every fired window, so two
//! engines (or two runs, one of them killed and recovered) can be compared by one number.

use crate::stream::datagen::mix64;
use crate::stream::window::WindowResult;

/// The wrapping sum of every result's digest, and their count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checksum {
    pub(crate) results: u64,
    pub(crate) sum: u64,
}

impl Checksum {
    /// One result's digest: `r = mix64(r ^ f)` over its six fields.
    pub(crate) fn digest(r: &WindowResult) -> u64 {
        [
            r.key,
            r.start,
            r.end,
            r.stats.count,
            r.stats.errors,
            r.stats.lat_sum,
        ]
        .iter()
        .fold(0, |acc, f| mix64(acc ^ f))
    }

    pub(crate) fn add(&mut self, r: &WindowResult) {
        self.results += 1;
        self.sum = self.sum.wrapping_add(Self::digest(r));
    }

    pub(crate) fn merge(&mut self, other: Checksum) {
        self.results += other.results;
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// `"<results> <sum as hex>"`: a sink part file's contents.
    pub(crate) fn to_line(self) -> String {
        format!("{} {}\n", self.results, self.hex())
    }

    pub(crate) fn from_line(line: &str) -> Option<Checksum> {
        let mut it = line.split_whitespace();
        let results = it.next()?.parse().ok()?;
        let sum = u64::from_str_radix(it.next()?, 16).ok()?;
        Some(Checksum { results, sum })
    }

    /// Sixteen lowercase hex digits, as every runner of the job prints it.
    pub(crate) fn hex(&self) -> String {
        format!("{:016x}", self.sum)
    }
}
