//! Live figures of a running load, for the dashboard: per client region, the latency of each
//! operation completed since the last look, and how many reads, writes and errors there were.
//! Workers add to it as they complete operations (one short critical section each); the
//! dashboard takes it, resetting it, at every update — so each figure covers one update's
//! interval, not the run so far.

use std::{collections::BTreeMap, sync::Mutex};

use hdrhistogram::Histogram;

use super::result::{histogram, record};
use crate::workload::OpKind;

/// What one client region completed since the last [`LiveLoad::take`].
#[derive(Clone, Debug)]
pub struct Window {
    /// Latency of every operation, µs (as the run's own histograms measure it: from the
    /// intended start in open loop).
    pub latency: Histogram<u64>,
    /// Reads completed.
    pub reads: u64,
    /// Writes completed (acknowledged or not).
    pub writes: u64,
    /// Operations that failed (a refused condition included).
    pub errors: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            latency: histogram(),
            reads: 0,
            writes: 0,
            errors: 0,
        }
    }
}

/// The shared sink workers record into when a load runs beside a dashboard.
#[derive(Debug, Default)]
pub struct LiveLoad {
    // A std mutex: the critical section is a histogram record, never held across an await.
    regions: Mutex<BTreeMap<String, Window>>,
}

impl LiveLoad {
    /// One completed operation of a client in `region`.
    pub fn record(&self, region: &str, kind: OpKind, latency_us: u64, ok: bool) {
        let mut regions = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        let w = match regions.get_mut(region) {
            Some(w) => w,
            None => regions.entry(region.to_owned()).or_default(),
        };
        record(&mut w.latency, latency_us);
        if kind.is_write() {
            w.writes += 1;
        } else {
            w.reads += 1;
        }
        if !ok {
            w.errors += 1;
        }
    }

    /// What every region completed since the last call, and start over.
    pub fn take(&self) -> BTreeMap<String, Window> {
        std::mem::take(&mut *self.regions.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_returns_what_was_recorded_since_the_last_one() {
        let live = LiveLoad::default();
        live.record("a", OpKind::Put, 2_000, true);
        live.record("a", OpKind::Get, 4_000, false);
        live.record("b", OpKind::Get, 1_000, true);
        let w = live.take();
        assert_eq!((w["a"].writes, w["a"].reads, w["a"].errors), (1, 1, 1));
        assert_eq!(w["a"].latency.len(), 2);
        assert_eq!(w["b"].reads, 1);
        assert!(live.take().is_empty(), "a take resets the windows");
    }
}
