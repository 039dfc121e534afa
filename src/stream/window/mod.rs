//! Event-time windows over keyed streams, with Flink's semantics: a window fires once the
//! watermark passes its last millisecond; its state is kept for the allowed lateness after
//! that, and an element arriving for it meanwhile fires it again with the update; an
//! element whose every window is past its lateness is late and dropped (or sent to the
//! job's late output).
//!
//! Time here is the *event frontier* `f`: the least event time still to come, Flink's
//! watermark plus one. A window `[start, end)` fires when `end <= f`.

#[cfg(feature = "rocksdb")]
mod rocks;
mod session;
mod sliced;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::stream::datagen::{Event, Level};

#[cfg(feature = "rocksdb")]
pub(crate) use rocks::{RocksMeta, RocksWindows, Shape};
pub(crate) use session::SessionWindows;
pub(crate) use sliced::SlicedWindows;

/// Which windows a job groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowSpec {
    /// `TUMBLE(ts, size)`.
    Tumbling { size: u64 },
    /// `HOP(ts, slide, size)`: each event is in `size / slide` windows.
    Sliding { size: u64, slide: u64 },
    /// `SESSION(ts, gap)`: windows that touch merge.
    Session { gap: u64 },
}

impl WindowSpec {
    /// Parses the benchmark's names, with its sizes: tumbling 10 s, sliding 60 s every
    /// 10 s, session gap 5 s.
    pub(crate) fn bench(name: &str) -> Option<WindowSpec> {
        match name {
            "tumbling" => Some(WindowSpec::Tumbling { size: 10_000 }),
            "sliding" => Some(WindowSpec::Sliding {
                size: 60_000,
                slide: 10_000,
            }),
            "session" => Some(WindowSpec::Session { gap: 5_000 }),
            _ => None,
        }
    }
}

/// What a window keeps per key: built from one record, merged with others. Window state is
/// written to checkpoints, hence serde.
pub(crate) trait Accumulator:
    Clone + std::fmt::Debug + Serialize + DeserializeOwned + Send + 'static
{
    /// The records it is built from.
    type In;
    fn of(e: &Self::In) -> Self;
    fn add(&mut self, e: &Self::In);
    fn merge(&mut self, other: &Self);
}

/// The benchmark's aggregate: count, errors and summed latency per window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LogStats {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) lat_sum: u64,
}

impl Accumulator for LogStats {
    type In = Event;

    fn of(e: &Event) -> LogStats {
        let mut s = LogStats::default();
        s.add(e);
        s
    }

    fn add(&mut self, e: &Event) {
        self.count += 1;
        self.errors += u64::from(e.level == Level::Error);
        self.lat_sum = self.lat_sum.wrapping_add(e.latency_ms);
    }

    fn merge(&mut self, other: &LogStats) {
        self.count += other.count;
        self.errors += other.errors;
        self.lat_sum = self.lat_sum.wrapping_add(other.lat_sum);
    }
}

/// One fired window of one key. A record dropped as late travels to the sink as the empty
/// window `[ts, ts)` (no real window is empty), so it is staged with its epoch's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WindowResult<A = LogStats> {
    pub(crate) key: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) stats: A,
}

impl<A> WindowResult<A> {
    /// A late record for the job's late output (see above), not a window.
    pub(crate) fn is_late_record(&self) -> bool {
        self.start == self.end
    }
}

/// The windows of every key one operator instance owns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "A: Accumulator")]
pub(crate) enum KeyedWindows<A = LogStats> {
    Sliced(SlicedWindows<A>),
    Session(SessionWindows<A>),
}

impl<A: Accumulator> KeyedWindows<A> {
    /// Windows of `spec` keeping fired windows `lateness` ms past their end.
    pub(crate) fn new(spec: WindowSpec, lateness: u64) -> KeyedWindows<A> {
        match spec {
            WindowSpec::Tumbling { size } => {
                KeyedWindows::Sliced(SlicedWindows::new(size, size, lateness))
            }
            WindowSpec::Sliding { size, slide } => {
                KeyedWindows::Sliced(SlicedWindows::new(size, slide, lateness))
            }
            WindowSpec::Session { gap } => {
                KeyedWindows::Session(SessionWindows::new(gap, lateness))
            }
        }
    }

    /// Whether a late event updated a fired window, which must fire again even if the
    /// frontier did not move.
    pub(crate) fn has_refires(&self) -> bool {
        match self {
            KeyedWindows::Sliced(w) => !w.refire.is_empty(),
            KeyedWindows::Session(w) => w.refire,
        }
    }

    /// Adds an event; false when it was late (every window it belongs to has fired).
    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        match self {
            KeyedWindows::Sliced(w) => w.add(key, ts, e),
            KeyedWindows::Session(w) => w.add(key, ts, e),
        }
    }

    /// Fires every window that ends at or before the event frontier `f`, and the fired ones
    /// a late event updated.
    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        match self {
            KeyedWindows::Sliced(w) => w.fire(f, out),
            KeyedWindows::Session(w) => w.fire(f, out),
        }
    }

    /// The event frontier up to which windows have fired: the operator's watermark.
    pub(crate) fn fired(&self) -> u64 {
        match self {
            KeyedWindows::Sliced(w) => w.fired,
            KeyedWindows::Session(w) => w.fired,
        }
    }

    /// Keeps only the keys `keep` says yes to: a restored operator takes its key groups.
    pub(crate) fn retain_keys(&mut self, keep: impl Fn(u64) -> bool) {
        match self {
            KeyedWindows::Sliced(w) => {
                w.keys.retain(|k, _| keep(*k));
                w.refire.retain(|(k, _)| keep(*k));
            }
            KeyedWindows::Session(w) => w.keys.retain(|k, _| keep(*k)),
        }
    }

    /// Takes in another instance's keys (restore after a rescale).
    pub(crate) fn absorb(&mut self, other: KeyedWindows<A>) {
        match (self, other) {
            (KeyedWindows::Sliced(a), KeyedWindows::Sliced(b)) => {
                a.fired = a.fired.max(b.fired);
                a.keys.extend(b.keys);
                a.refire.extend(b.refire);
            }
            (KeyedWindows::Session(a), KeyedWindows::Session(b)) => {
                a.fired = a.fired.max(b.fired);
                a.keys.extend(b.keys);
                a.refire |= b.refire;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
