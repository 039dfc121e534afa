//! `datagen`: the benchmark job's generator, the same events bit for bit wherever it runs
//! (this module, the Flink job in compat-tests/stream), so checksums can be compared.
//!
//! All arithmetic is unsigned 64-bit and wrapping, `>>` is logical.

/// Event time of event 0, in milliseconds.
const BASE_TS: u64 = 1_700_000_000_000;
/// Every this many events the stream jumps forward by [`GAP_MS`]: session windows end there.
const GAP_EVERY: u64 = 50_000;
const GAP_MS: u64 = 8_000;

/// SplitMix64's finalizer: the generator's hash and the checksum's mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 27;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A log line's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// One web-server log event, as the article's pipeline sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Event {
    /// Event time, milliseconds since the epoch.
    pub(crate) ts: u64,
    /// The service the line is from: the grouping key.
    pub(crate) service: u64,
    pub(crate) level: Level,
    pub(crate) latency_ms: u64,
}

/// Event `i` of the stream. Events are out of order by less than a second, and the stream
/// skips 8 s after every 50,000 events.
pub(crate) fn event(i: u64) -> Event {
    let h = mix64(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let ts = BASE_TS
        .wrapping_add(i)
        .wrapping_add((i / GAP_EVERY).wrapping_mul(GAP_MS))
        .wrapping_sub(h % 1000);
    let tier = (h >> 10) % 1000;
    let pick = (h >> 20) % 1_000_000;
    // 60% of the lines come from 10 busy services, 39% from 40 others, 1% from 50 rare ones.
    let service = match tier {
        0..600 => pick % 10,
        600..990 => 10 + pick % 40,
        _ => 50 + pick % 50,
    };
    let lv = (h >> 40) % 100;
    let (level, bound) = match lv {
        0..90 => (Level::Info, 200),
        90..98 => (Level::Warn, 1000),
        _ => (Level::Error, 5000),
    };
    Event {
        ts,
        service,
        level,
        latency_ms: 1 + (h >> 47) % bound,
    }
}

/// The events of split `k` of `p`: `k, k+p, k+2p, ...` below `n`, from position `from`
/// (the count of this split's events already emitted, which is what a checkpoint records).
pub(crate) fn split_indices(
    n: u64,
    p: u64,
    k: u64,
    from: u64,
) -> std::iter::StepBy<std::ops::Range<u64>> {
    let first = k.saturating_add(from.saturating_mul(p)).min(n);
    (first..n).step_by(p.max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_finalizer_matches_the_reference() {
        // SplitMix64's first output for seed 0 is mix64(0x9E3779B97F4A7C15).
        assert_eq!(mix64(0x9E37_79B9_7F4A_7C15), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix64(0), 0);
    }

    #[test]
    fn events_stay_within_a_second_of_their_position() {
        for i in (0..200_000).step_by(997) {
            let e = event(i);
            let nominal = BASE_TS + i + (i / GAP_EVERY) * GAP_MS;
            assert!(e.ts <= nominal && nominal - e.ts < 1000);
            assert!(e.service < 100);
            assert!(e.latency_ms >= 1 && e.latency_ms <= 5000);
        }
    }

    #[test]
    fn splits_deal_indices_round_robin() {
        assert_eq!(
            split_indices(10, 3, 1, 0).collect::<Vec<_>>(),
            vec![1, 4, 7]
        );
        assert_eq!(split_indices(10, 3, 1, 2).collect::<Vec<_>>(), vec![7]);
        assert_eq!(split_indices(10, 1, 0, 8).collect::<Vec<_>>(), vec![8, 9]);
    }
}
