//! The link table: one-way latency, jitter, loss and partition per ordered pair of regions,
//! and the pure arithmetic of link emulation.
//!
//! Replication on a link from `a` to `b` is emulated by the receiver `b`: a write committed at
//! `a` at time `t` is applied at `b` no earlier than `t + latency ± jitter`, and never before
//! the write before it on the same link (FIFO). A batch "lost" with probability `loss` is
//! delivered after an extra retransmission timeout instead — loss shows as lag, never as
//! missing data. A partitioned link delivers nothing until healed, then everything in order.

use std::time::Duration;

use crate::region::RegionId;

/// Settings of one direction of a link.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkSetting {
    /// One-way latency, ms.
    pub latency_ms: f64,
    /// Uniform jitter around the latency, ± ms.
    pub jitter_ms: f64,
    /// Probability that a replication batch is lost (and sent again after a timeout).
    pub loss: f64,
    /// Cut off: nothing crosses until healed.
    pub partitioned: bool,
}

impl Default for LinkSetting {
    fn default() -> Self {
        Self {
            latency_ms: 0.0,
            jitter_ms: 0.0,
            loss: 0.0,
            partitioned: false,
        }
    }
}

/// Largest latency or jitter accepted, ms (one minute).
pub const MAX_LATENCY_MS: f64 = 60_000.0;
/// Largest loss probability accepted (every batch lost would never deliver).
pub const MAX_LOSS: f64 = 0.9;

impl LinkSetting {
    /// A link with this latency and jitter.
    pub fn new(latency_ms: f64, jitter_ms: f64) -> Self {
        Self {
            latency_ms,
            jitter_ms,
            ..Self::default()
        }
    }

    /// Check the numbers are sane; `Err` says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && (0.0..=MAX_LATENCY_MS).contains(&v);
        if !ok(self.latency_ms) {
            return Err(format!(
                "latency_ms must be between 0 and {MAX_LATENCY_MS}, got {}",
                self.latency_ms
            ));
        }
        if !ok(self.jitter_ms) {
            return Err(format!(
                "jitter_ms must be between 0 and {MAX_LATENCY_MS}, got {}",
                self.jitter_ms
            ));
        }
        if !(self.loss.is_finite() && (0.0..=MAX_LOSS).contains(&self.loss)) {
            return Err(format!(
                "loss must be between 0 and {MAX_LOSS}, got {}",
                self.loss
            ));
        }
        Ok(())
    }

    /// One-way delay for a message, given a uniform sample `u` in [0, 1): latency ± jitter,
    /// never negative.
    pub fn delay_us(&self, u: f64) -> u64 {
        let ms = self.latency_ms + self.jitter_ms * (2.0 * u - 1.0);
        (ms.max(0.0) * 1000.0) as u64
    }

    /// Retransmission timeout for a lost batch: three one-way latencies, at least 20 ms.
    pub fn retransmit_timeout_us(&self) -> u64 {
        ((self.latency_ms * 3.0).max(20.0) * 1000.0) as u64
    }
}

/// When a write committed at `commit_us` is delivered on a link whose previous delivery was at
/// `prev_delivery_us`: commit + delay (+ a retransmission timeout when `lost`), FIFO.
pub fn delivery_time(
    commit_us: u64,
    delay_us: u64,
    lost_extra_us: u64,
    prev_delivery_us: u64,
) -> u64 {
    (commit_us + delay_us + lost_extra_us).max(prev_delivery_us)
}

/// Settings of every ordered pair of regions.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkTable {
    n: usize,
    links: Vec<LinkSetting>,
}

impl LinkTable {
    /// A table for `n` regions, every link set to `default`.
    pub fn new(n: usize, default: LinkSetting) -> Self {
        Self {
            n,
            links: vec![default; n * n],
        }
    }

    /// The setting of `from -> to` (a region to itself: zero latency, never partitioned).
    pub fn get(&self, from: RegionId, to: RegionId) -> LinkSetting {
        if from == to {
            return LinkSetting::default();
        }
        self.links[from.index() * self.n + to.index()]
    }

    /// Set `from -> to`.
    pub fn set(&mut self, from: RegionId, to: RegionId, s: LinkSetting) {
        if from != to {
            self.links[from.index() * self.n + to.index()] = s;
        }
    }

    /// Cut (or heal) both directions between `a` and `b`.
    pub fn set_partitioned(&mut self, a: RegionId, b: RegionId, partitioned: bool) {
        for (x, y) in [(a, b), (b, a)] {
            let mut s = self.get(x, y);
            s.partitioned = partitioned;
            self.set(x, y, s);
        }
    }

    /// Every ordered pair with its setting (self-links excluded).
    pub fn iter(&self) -> impl Iterator<Item = (RegionId, RegionId, LinkSetting)> + '_ {
        (0..self.n).flat_map(move |f| {
            (0..self.n).filter(move |t| *t != f).map(move |t| {
                let (from, to) = (RegionId::from_index(f), RegionId::from_index(t));
                (from, to, self.get(from, to))
            })
        })
    }

    /// Round trip from a client in `client` to the node in `server`, given two uniform samples.
    pub fn round_trip(&self, client: RegionId, server: RegionId, u1: f64, u2: f64) -> Duration {
        let there = self.get(client, server).delay_us(u1);
        let back = self.get(server, client).delay_us(u2);
        Duration::from_micros(there + back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(i: usize) -> RegionId {
        RegionId::from_index(i)
    }

    #[test]
    fn delay_spans_latency_plus_minus_jitter_and_is_never_negative() {
        let s = LinkSetting::new(10.0, 2.0);
        assert_eq!(s.delay_us(0.0), 8_000);
        assert_eq!(s.delay_us(0.5), 10_000);
        assert_eq!(LinkSetting::new(1.0, 5.0).delay_us(0.0), 0);
    }

    #[test]
    fn delivery_is_fifo_per_link() {
        assert_eq!(delivery_time(1_000, 500, 0, 0), 1_500);
        assert_eq!(
            delivery_time(1_000, 500, 0, 9_000),
            9_000,
            "never before the previous write"
        );
        assert_eq!(
            delivery_time(1_000, 500, 20_000, 0),
            21_500,
            "lost batches arrive after the timeout"
        );
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = [
            (LinkSetting::new(-1.0, 0.0), "latency_ms"),
            (LinkSetting::new(f64::NAN, 0.0), "latency_ms"),
            (LinkSetting::new(1.0, 1e9), "jitter_ms"),
            (
                LinkSetting {
                    loss: 1.0,
                    ..LinkSetting::new(1.0, 0.0)
                },
                "loss",
            ),
        ];
        for (s, field) in bad {
            assert!(s.validate().unwrap_err().contains(field), "{s:?}");
        }
        assert!(LinkSetting::new(38.0, 2.0).validate().is_ok());
    }

    #[test]
    fn partition_cuts_both_directions_and_self_links_never() {
        let mut t = LinkTable::new(3, LinkSetting::new(5.0, 0.0));
        t.set_partitioned(r(0), r(2), true);
        assert!(t.get(r(0), r(2)).partitioned && t.get(r(2), r(0)).partitioned);
        assert!(!t.get(r(0), r(1)).partitioned);
        assert_eq!(t.get(r(1), r(1)), LinkSetting::default());
        assert_eq!(t.iter().count(), 6);
    }

    #[test]
    fn round_trip_adds_both_directions() {
        let mut t = LinkTable::new(2, LinkSetting::new(5.0, 0.0));
        t.set(r(1), r(0), LinkSetting::new(7.0, 0.0));
        assert_eq!(
            t.round_trip(r(0), r(1), 0.5, 0.5),
            Duration::from_millis(12)
        );
        assert_eq!(t.round_trip(r(0), r(0), 0.5, 0.5), Duration::ZERO);
    }
}
