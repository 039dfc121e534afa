//! Time for the core, read by its driver. The core never reads a clock: the driver stamps
//! each turn with [`Now`] (`Core::set_now`), so a test or a simulation can run the core on
//! any timeline, and every request of a turn sees the same time.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// What time it is, as the driver read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Now {
    /// Monotonic µs since the driver's clock started: session expiry, latencies, uptime.
    pub mono_us: u64,
    /// Wall-clock ms since the epoch: txn times, ctime/mtime, connection stats.
    pub wall_ms: i64,
}

impl Now {
    /// The time a core starts at: its driver's clock starts with it.
    pub fn at_start() -> Now {
        Now {
            mono_us: 0,
            wall_ms: wall_ms(),
        }
    }

    /// Monotonic ms since the clock started.
    pub fn mono_ms(&self) -> u64 {
        self.mono_us / 1000
    }
}

/// The driver's clock (on tokio's time, so tests with paused time control it).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// The time now.
    pub fn now(&self) -> Now {
        Now {
            mono_us: u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
            wall_ms: wall_ms(),
        }
    }

    /// Monotonic ms since the clock started.
    pub fn mono_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant `ms` after the clock started (for timers).
    pub fn at(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::start()
    }
}

/// Wall-clock ms, as ZooKeeper stamps txns (for the drivers and the operations side).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
