//! Timestamps and the clocks that make them.
//!
//! A [`Timestamp`] is a physical time in microseconds plus a logical counter, ordered
//! lexicographically. Two clock modes exist:
//!
//! - [`ClockMode::Hybrid`] (the default) is a hybrid logical clock: every stamp is greater than
//!   every stamp the clock made before *and every timestamp it has observed* from other regions.
//!   So a region that has applied a write always stamps its next writes later, and a causally
//!   later write can never lose last-writer-wins to the write it overwrote.
//! - [`ClockMode::Wall`] stamps with the region's (possibly skewed) wall clock and ignores what it
//!   observes. Stamps stay strictly increasing within the region, but a region whose clock runs
//!   behind can stamp a causally later write *earlier* than the write it overwrote — the anomaly
//!   this mode exists to show.
//!
//! The clock is plain synchronous code: [`Clock::tick_at`] takes the physical time as an
//! argument so tests can drive it; [`Clock::tick`] reads the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// A hybrid timestamp: physical microseconds since the Unix epoch, then a logical counter.
///
/// Packed to 4-byte alignment, so that it takes 12 bytes instead of 16 and a [`Version`]
/// (timestamp + region) 16 instead of 24: every write, and so every key, carries one. Fields
/// are read by value (a reference to a packed field is refused by the compiler).
///
/// [`Version`]: crate::store::Version
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C, packed(4))]
pub struct Timestamp {
    /// Physical part, µs since the Unix epoch (in the stamping region's skewed clock).
    pub physical_us: u64,
    /// Logical counter, breaking ties within one physical microsecond.
    pub logical: u32,
}

impl Timestamp {
    /// A timestamp with a zero logical part.
    pub const fn at(physical_us: u64) -> Self {
        Self {
            physical_us,
            logical: 0,
        }
    }

    /// The smallest timestamp greater than `self`.
    pub fn successor(self) -> Self {
        match self.logical.checked_add(1) {
            Some(logical) => Self {
                physical_us: self.physical_us,
                logical,
            },
            None => Self::at(self.physical_us.saturating_add(1)),
        }
    }
}

/// How a region stamps its writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ClockMode {
    /// Hybrid logical clock: stamps after everything applied (no causal anomalies).
    #[default]
    Hybrid,
    /// Skewed wall clock: shows how skew makes a causally later write lose.
    Wall,
}

impl ClockMode {
    /// The name used in cluster files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ClockMode::Hybrid => "hybrid",
            ClockMode::Wall => "wall",
        }
    }
}

/// One region's clock.
#[derive(Clone, Debug)]
pub struct Clock {
    mode: ClockMode,
    skew_us: i64,
    last: Timestamp,
}

/// Microseconds since the Unix epoch on this machine's (unskewed) clock.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Clock {
    /// A clock in `mode` whose physical time runs `skew_us` ahead (negative: behind) of the
    /// machine's.
    pub fn new(mode: ClockMode, skew_us: i64) -> Self {
        Self {
            mode,
            skew_us,
            last: Timestamp::default(),
        }
    }

    /// The clock mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The configured skew, µs.
    pub fn skew_us(&self) -> i64 {
        self.skew_us
    }

    /// The last timestamp stamped or (hybrid mode) observed.
    pub fn last(&self) -> Timestamp {
        self.last
    }

    /// Stamp a new write, reading the system clock.
    pub fn tick(&mut self) -> Timestamp {
        self.tick_at(now_us())
    }

    /// Stamp a new write at machine time `machine_us` (skew is added here). The result is
    /// strictly greater than every earlier stamp and, in hybrid mode, every observed timestamp.
    pub fn tick_at(&mut self, machine_us: u64) -> Timestamp {
        let physical = machine_us.saturating_add_signed(self.skew_us);
        let next = Timestamp::at(physical).max(self.last.successor());
        self.last = next;
        next
    }

    /// After a restart: never stamp at or before `own_last`, the newest stamp this region made
    /// before it stopped (whatever the clock mode).
    pub fn restore(&mut self, own_last: Timestamp) {
        self.last = self.last.max(own_last);
    }

    /// Take note of a timestamp seen in a replicated write. Hybrid clocks move past it;
    /// wall clocks ignore it.
    pub fn observe(&mut self, seen: Timestamp) {
        if self.mode == ClockMode::Hybrid && seen > self.last {
            self.last = seen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stamps_use_physical_time_when_it_moves_on() {
        let mut c = Clock::new(ClockMode::Hybrid, 0);
        assert_eq!(c.tick_at(100), Timestamp::at(100));
        assert_eq!(c.tick_at(200), Timestamp::at(200));
    }

    #[test]
    fn stamps_in_one_microsecond_count_logically() {
        let mut c = Clock::new(ClockMode::Hybrid, 0);
        assert_eq!(c.tick_at(100), Timestamp::at(100));
        assert_eq!(
            c.tick_at(100),
            Timestamp {
                physical_us: 100,
                logical: 1
            }
        );
        assert_eq!(
            c.tick_at(90),
            Timestamp {
                physical_us: 100,
                logical: 2
            }
        );
    }

    #[test]
    fn hybrid_clock_stamps_after_an_observed_future_timestamp() {
        let mut c = Clock::new(ClockMode::Hybrid, 0);
        c.observe(Timestamp::at(5_000));
        assert_eq!(
            c.tick_at(1_000),
            Timestamp {
                physical_us: 5_000,
                logical: 1
            }
        );
    }

    #[test]
    fn wall_clock_ignores_observed_timestamps() {
        let mut c = Clock::new(ClockMode::Wall, 0);
        c.observe(Timestamp::at(5_000));
        assert_eq!(c.tick_at(1_000), Timestamp::at(1_000));
    }

    #[test]
    fn skew_shifts_physical_time() {
        let mut ahead = Clock::new(ClockMode::Wall, 300);
        let mut behind = Clock::new(ClockMode::Wall, -300);
        assert_eq!(ahead.tick_at(1_000), Timestamp::at(1_300));
        assert_eq!(behind.tick_at(1_000), Timestamp::at(700));
    }

    #[test]
    fn logical_overflow_carries_into_physical() {
        let t = Timestamp {
            physical_us: 7,
            logical: u32::MAX,
        };
        assert_eq!(t.successor(), Timestamp::at(8));
    }

    #[derive(Debug, Clone)]
    enum Step {
        Tick(u64),
        Observe(u64, u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u64..10_000).prop_map(Step::Tick),
            (0u64..10_000, 0u32..5).prop_map(|(p, l)| Step::Observe(p, l)),
        ]
    }

    proptest! {
        /// HLC never goes backwards and stamps after everything it has applied.
        #[test]
        fn hybrid_clock_is_monotonic_and_after_everything_observed(
            steps in proptest::collection::vec(step(), 1..200),
            skew in -5_000i64..5_000,
        ) {
            let mut c = Clock::new(ClockMode::Hybrid, skew);
            let mut max_seen = Timestamp::default();
            let mut last_stamp = None;
            for s in steps {
                match s {
                    Step::Observe(p, l) => {
                        let t = Timestamp { physical_us: p, logical: l };
                        c.observe(t);
                        max_seen = max_seen.max(t);
                    }
                    Step::Tick(now) => {
                        let t = c.tick_at(now);
                        prop_assert!(t > max_seen);
                        if let Some(prev) = last_stamp { prop_assert!(t > prev); }
                        last_stamp = Some(t);
                        max_seen = t;
                    }
                }
            }
        }

        /// A wall clock is strictly monotonic in its own stamps, whatever it observes.
        #[test]
        fn wall_clock_is_monotonic_in_its_own_stamps(
            steps in proptest::collection::vec(step(), 1..200),
        ) {
            let mut c = Clock::new(ClockMode::Wall, 0);
            let mut last_stamp: Option<Timestamp> = None;
            for s in steps {
                match s {
                    Step::Observe(p, l) => c.observe(Timestamp { physical_us: p, logical: l }),
                    Step::Tick(now) => {
                        let t = c.tick_at(now);
                        if let Some(prev) = last_stamp { prop_assert!(t > prev); }
                        last_stamp = Some(t);
                    }
                }
            }
        }
    }
}
