//! What the checker hands back: the violations found, the report with its figures, and the
//! Aurora Global accounting of set-aside writes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{super::strong::StrongCheck, MAX_LISTED};

/// One thing that is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// divergence, wrong-winner, missing, phantom, bad-event, unreported-loss, feed-incomplete,
    /// duplicate-dot.
    pub kind: String,
    /// The key concerned.
    pub key: String,
    /// Expected, found, where.
    pub detail: String,
}

/// The verdict and the measurements.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    /// No violations.
    pub ok: bool,
    /// Violations (the first [`MAX_LISTED`]).
    pub violations: Vec<Violation>,
    /// Violations per kind.
    pub violation_counts: BTreeMap<String, u64>,
    /// Keys written in the run.
    pub keys_checked: u64,
    /// Keys left out of the unreported-loss check because a write's outcome stayed unknown
    /// (after resolution against the regions' logs).
    pub keys_skipped: u64,
    /// The same figure under its earlier name (kept for scripts that read it).
    pub keys_skipped_unknown: u64,
    /// Unknown-outcome writes resolved from the logs: found (committed) / found nowhere.
    pub writes_resolved_applied: u64,
    /// See `writes_resolved_applied`.
    pub writes_resolved_not_applied: u64,
    /// Acknowledged writes.
    pub writes_acked: u64,
    /// Writes with unknown outcome.
    pub writes_unknown: u64,
    /// Acknowledged writes concurrent with at least one other write.
    pub concurrent_writes: u64,
    /// concurrent_writes / writes_acked.
    pub conflict_rate: f64,
    /// Distinct acknowledged writes the nodes reported lost.
    pub lost_writes: u64,
    /// lost_writes / writes_acked.
    pub lost_write_rate: f64,
    /// Distinct (winner, loser) conflict pairs reported.
    pub conflict_pairs: u64,
    /// Distinct conflict pairs per "winner-region>loser-region".
    pub conflicts_by_pair: BTreeMap<String, u64>,
    /// Causal inversions (skewed wall clocks) reported.
    pub causal_inversions: u64,
    /// Aurora Global: surviving / lost at the cut / lost in split brain.
    pub accounting: Accounting,
    /// Multi-Region strong consistency: the checks of [`super::strong`] (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strong: Option<StrongCheck>,
}

impl CheckReport {
    /// Count a violation of `kind` on `key`, listing it while fewer than [`MAX_LISTED`] are.
    pub fn violation(&mut self, kind: &str, key: &str, detail: String) {
        *self.violation_counts.entry(kind.to_owned()).or_default() += 1;
        if self.violations.len() < MAX_LISTED {
            self.violations.push(Violation {
                kind: kind.to_owned(),
                key: key.to_owned(),
                detail,
            });
        }
    }
}

/// Aurora Global: an acknowledged write a failover set aside (in the old primary's divergent
/// list), and which kind of loss it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetAside {
    /// Acknowledged before the failover cut the old primary off: the failover's RPO.
    LostAtCut,
    /// Acknowledged by the isolated old primary after the cut (split brain).
    SplitBrain,
}

/// How the acknowledged writes of an Aurora Global run are accounted for.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Accounting {
    /// Acknowledged writes that survive (the final value, or overwritten by a later write).
    pub surviving: u64,
    /// Set aside by a failover, acknowledged before the cut.
    pub lost_at_cut: u64,
    /// Set aside by a failover, acknowledged in split brain after the cut.
    pub split_brain: u64,
    /// Each set-aside write: id, key and kind (the first [`MAX_LISTED`]).
    pub set_aside_writes: Vec<SetAsideWrite>,
}

/// One set-aside write in the report.
#[derive(Clone, Debug, Serialize)]
pub struct SetAsideWrite {
    /// Write id.
    pub write_id: String,
    /// Key.
    pub key: String,
    /// Which loss.
    pub kind: SetAside,
}
