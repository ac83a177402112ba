//! Multi-Region strong consistency (DynamoDB's MRSC) in a load run: what the nodes' status
//! says about it (the witness, which serves nothing and so is no target; each replica region's
//! nearest participant and the configured round trip to it — the least a write can take), how
//! the nodes' refusals are told apart, the per-region tallies, and the retry backoff.
//!
//! - `ABORTED` whose message begins `ReplicatedWriteConflict`: the write was applied nowhere
//!   (a failed write, not a lost one). Counted per region — split into conflicts with another
//!   region's write and with one in flight in the same region — and retried when asked.
//! - `UNAVAILABLE` (no quorum): the outcome is unknown — the write may commit later — so it is
//!   recorded as unknown, as a timeout is, and resolved from the regions' logs after the run.

use std::{collections::BTreeMap, time::Duration};

use hdrhistogram::Histogram;
use meridian_proto::v1 as pb;
use serde::Serialize;
use tonic::Code;

use crate::check::history::ReadRec;

/// Longest wait before a retry of a conflicted write.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A region's nearest participant (replica or witness) and the configured round trip to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nearest {
    /// The participant.
    pub region: String,
    /// Configured one-way latency there plus back, ms (jitter left out).
    pub rtt_ms: f64,
}

/// How a strong-mode run is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct StrongSetup {
    /// The witness region, if the cluster has one (never a target).
    pub witness: Option<String>,
    /// Reads are strongly consistent (`GetRequest.consistent_read`).
    pub consistent_reads: bool,
    /// Retries of a write refused with `ReplicatedWriteConflict`.
    pub retry_conflicts: u32,
    /// Per replica region: its nearest participant.
    pub nearest: BTreeMap<String, Nearest>,
}

impl StrongSetup {
    /// The setup of a strong cluster (None when `statuses` say eventual): the witness from the
    /// nodes' status, nearest participants from the configured one-way latencies per
    /// "from>to".
    pub fn from_status(
        statuses: &[pb::NodeStatus],
        link_latency_ms: &BTreeMap<String, f64>,
        consistent_reads: Option<bool>,
        retry_conflicts: u32,
    ) -> Option<Self> {
        if !statuses
            .iter()
            .any(|s| s.multi_region_consistency == "strong")
        {
            return None;
        }
        let names: Vec<&str> = statuses.iter().map(|s| s.region.as_str()).collect();
        let witness = statuses
            .iter()
            .find(|s| s.witness)
            .map(|s| s.region.clone());
        let nearest = names
            .iter()
            .filter(|r| witness.as_deref() != Some(**r))
            .filter_map(|r| Some((r.to_string(), nearest(r, &names, link_latency_ms)?)))
            .collect();
        Some(Self {
            witness,
            consistent_reads: consistent_reads.unwrap_or(true),
            retry_conflicts,
            nearest,
        })
    }

    /// The round trip to `region`'s nearest participant (zero when unknown).
    pub fn rtt(&self, region: &str) -> Duration {
        self.nearest.get(region).map_or(Duration::ZERO, |n| {
            Duration::from_secs_f64(n.rtt_ms / 1000.0)
        })
    }
}

/// The participant of `names` other than `region` with the smallest configured round trip.
pub fn nearest(
    region: &str,
    names: &[&str],
    one_way_ms: &BTreeMap<String, f64>,
) -> Option<Nearest> {
    names
        .iter()
        .filter(|p| **p != region)
        .map(|p| {
            let way =
                |a: &str, b: &str| one_way_ms.get(&format!("{a}>{b}")).copied().unwrap_or(0.0);
            Nearest {
                region: p.to_string(),
                rtt_ms: way(region, p) + way(p, region),
            }
        })
        .min_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms))
}

/// What a node's refusal means in strong mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `ReplicatedWriteConflict`; `in_region`: with a write in flight in the same region.
    Conflict {
        /// The write in flight was this region's own.
        in_region: bool,
    },
    /// No quorum (`UNAVAILABLE`): a write's outcome is unknown.
    NoQuorum,
    /// Anything else.
    Other,
}

/// Classify a refusal.
pub fn classify(status: &tonic::Status) -> Refusal {
    let msg = status.message();
    match status.code() {
        Code::Aborted if msg.starts_with("ReplicatedWriteConflict") => Refusal::Conflict {
            in_region: msg.contains("in flight in this region"),
        },
        Code::Unavailable if msg.starts_with("unavailable: no quorum") => Refusal::NoQuorum,
        _ => Refusal::Other,
    }
}

/// Is `status` a `ReplicatedWriteConflict`?
pub fn is_conflict(status: &tonic::Status) -> bool {
    matches!(classify(status), Refusal::Conflict { .. })
}

/// A full-jitter exponential backoff before retry `attempt` (1 for the first): uniform over
/// `[0, base · 2^(attempt−1)]`, at most [`MAX_BACKOFF`]; `u` uniform in [0, 1). `base` is the
/// region's round trip to its nearest participant — how long the write it met stays in flight.
pub fn backoff(base: Duration, attempt: u32, u: f64) -> Duration {
    let ceiling = base
        .max(Duration::from_millis(1))
        .saturating_mul(1 << attempt.saturating_sub(1).min(20))
        .min(MAX_BACKOFF);
    ceiling.mul_f64(u.clamp(0.0, 1.0))
}

/// One region's strong-mode figures (all zero in an eventual cluster).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StrongTally {
    /// Write requests sent, retries included.
    pub write_attempts: u64,
    /// `ReplicatedWriteConflict` answers (every attempt).
    pub conflict_errors: u64,
    /// Of those: the item had a write in flight in this same region.
    pub conflict_errors_in_region: u64,
    /// Retries sent after a conflict.
    pub conflict_retries: u64,
    /// Writes that still ended in a conflict (no retry left): what the application sees.
    pub conflict_failed: u64,
    /// Writes acknowledged after one or more retries of a conflict.
    pub conflict_recovered: u64,
    /// Writes refused for want of a quorum (outcome unknown, resolved after the run).
    pub no_quorum_writes: u64,
    /// Strong reads refused for want of a quorum.
    pub no_quorum_reads: u64,
}

impl StrongTally {
    /// Add `o` to this tally.
    pub fn add(&mut self, o: &Self) {
        self.write_attempts += o.write_attempts;
        self.conflict_errors += o.conflict_errors;
        self.conflict_errors_in_region += o.conflict_errors_in_region;
        self.conflict_retries += o.conflict_retries;
        self.conflict_failed += o.conflict_failed;
        self.conflict_recovered += o.conflict_recovered;
        self.no_quorum_writes += o.no_quorum_writes;
        self.no_quorum_reads += o.no_quorum_reads;
    }

    /// Conflict answers per write attempt.
    pub fn conflict_error_rate(&self) -> f64 {
        if self.write_attempts == 0 {
            0.0
        } else {
            self.conflict_errors as f64 / self.write_attempts as f64
        }
    }
}

/// What a strong-mode run saw.
#[derive(Debug)]
pub struct StrongResult {
    /// How it was set up.
    pub setup: StrongSetup,
    /// Regions of the configuration that sent nothing (the witness).
    pub skipped: Vec<String>,
    /// Per client region.
    pub by_region: BTreeMap<String, StrongTally>,
    /// Latency of acknowledged writes per client region, µs (from the intended start, retries
    /// included).
    pub acked_write_latency: BTreeMap<String, Histogram<u64>>,
    /// Every strong read.
    pub reads: Vec<ReadRec>,
    /// The model's conflict-error rate (per write attempt).
    pub predicted_conflict_error_rate: f64,
}

impl StrongResult {
    /// The tallies of every region together.
    pub fn total(&self) -> StrongTally {
        let mut t = StrongTally::default();
        for x in self.by_region.values() {
            t.add(x);
        }
        t
    }

    /// p50 of `region`'s acknowledged writes minus its configured round trip to the nearest
    /// participant, ms.
    pub fn p50_over_rtt_ms(&self, region: &str) -> Option<f64> {
        let h = self
            .acked_write_latency
            .get(region)
            .filter(|h| !h.is_empty())?;
        let rtt = self.setup.nearest.get(region)?.rtt_ms;
        Some(h.value_at_quantile(0.5) as f64 / 1000.0 - rtt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(region: &str, witness: bool) -> pb::NodeStatus {
        pb::NodeStatus {
            region: region.into(),
            multi_region_consistency: "strong".into(),
            witness,
            ..Default::default()
        }
    }

    #[test]
    fn the_nearest_participant_counts_the_witness_and_both_directions() {
        let lat: BTreeMap<String, f64> = [
            ("a>b", 40.0),
            ("b>a", 40.0),
            ("a>w", 10.0),
            ("w>a", 15.0),
            ("b>w", 60.0),
            ("w>b", 60.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let s = StrongSetup::from_status(
            &[status("a", false), status("b", false), status("w", true)],
            &lat,
            None,
            2,
        )
        .unwrap();
        assert_eq!(s.witness.as_deref(), Some("w"));
        assert!(s.consistent_reads, "strong reads by default");
        assert_eq!(
            s.nearest["a"],
            Nearest {
                region: "w".into(),
                rtt_ms: 25.0
            }
        );
        assert_eq!(
            s.nearest["b"],
            Nearest {
                region: "a".into(),
                rtt_ms: 80.0
            }
        );
        assert!(!s.nearest.contains_key("w"), "the witness is no target");
        let eventual = pb::NodeStatus {
            multi_region_consistency: "eventual".into(),
            ..status("a", false)
        };
        assert_eq!(StrongSetup::from_status(&[eventual], &lat, None, 0), None);
    }

    #[test]
    fn refusals_are_told_apart_by_code_and_message() {
        let conflict = tonic::Status::aborted(
            "ReplicatedWriteConflict: key \"k\" is being modified in another region; the write was not applied anywhere (retry it)",
        );
        let local = tonic::Status::aborted(
            "ReplicatedWriteConflict: key \"k\" has a write in flight in this region; the write was not applied (retry it)",
        );
        assert_eq!(classify(&conflict), Refusal::Conflict { in_region: false });
        assert_eq!(classify(&local), Refusal::Conflict { in_region: true });
        assert_eq!(
            classify(&tonic::Status::unavailable(
                "unavailable: no quorum: region a cannot reach b or c (partitioned)"
            )),
            Refusal::NoQuorum
        );
        assert_eq!(
            classify(&tonic::Status::aborted("something else")),
            Refusal::Other
        );
        assert_eq!(
            classify(&tonic::Status::unavailable("connection refused")),
            Refusal::Other
        );
    }

    #[test]
    fn backoff_is_full_jitter_doubling_from_the_round_trip_up_to_a_cap() {
        let rtt = Duration::from_millis(40);
        assert_eq!(backoff(rtt, 1, 0.5), Duration::from_millis(20));
        assert_eq!(backoff(rtt, 3, 0.999_999).as_millis(), 159);
        assert_eq!(backoff(rtt, 30, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(Duration::ZERO, 1, 1.0), Duration::from_millis(1));
    }
}
