//! The dataflow's timestamp: `(epoch, event)` in the product order.
//!
//! `epoch` counts checkpoints: a source moves to the next one every checkpoint interval, so
//! an operator's input frontier tells when an epoch is complete (no element of it is left)
//! and its state can be written. `event` is the event frontier, Flink's watermark plus one:
//! the least event time a source may still send. In the product order neither waits for
//! the other, so no barrier or watermark record is needed.

use std::fmt;

use serde::{Deserialize, Serialize};
use timely::order::PartialOrder;
use timely::progress::timestamp::{PathSummary, Refines, Timestamp};

#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct EpochTime {
    pub(crate) epoch: u64,
    pub(crate) event: u64,
}

impl EpochTime {
    pub(crate) fn new(epoch: u64, event: u64) -> EpochTime {
        EpochTime { epoch, event }
    }
}

impl fmt::Debug for EpochTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.epoch, self.event)
    }
}

impl PartialOrder for EpochTime {
    fn less_equal(&self, other: &Self) -> bool {
        self.epoch <= other.epoch && self.event <= other.event
    }
}

impl Timestamp for EpochTime {
    type Summary = EpochTime;
    fn minimum() -> Self {
        EpochTime::default()
    }
}

/// A path summary adds to both coordinates; the jobs have no loops, so only the zero
/// summary is ever used.
impl PathSummary<EpochTime> for EpochTime {
    fn results_in(&self, src: &EpochTime) -> Option<EpochTime> {
        Some(EpochTime {
            epoch: src.epoch.checked_add(self.epoch)?,
            event: src.event.checked_add(self.event)?,
        })
    }

    fn followed_by(&self, other: &Self) -> Option<Self> {
        self.results_in(other)
    }
}

impl Refines<()> for EpochTime {
    fn to_inner(_: ()) -> EpochTime {
        EpochTime::default()
    }
    fn to_outer(self) {}
    fn summarize(_: EpochTime) {}
}
