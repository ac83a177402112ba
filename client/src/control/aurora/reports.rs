//! What the Aurora Global role changes report (field names are the `ctl --json` contracts),
//! and the one rule that splits a failed-over primary's writes at the cut.

use meridian_proto::v1 as pb;
use serde::Serialize;

/// One write of the old primary's log, as reported lost or divergent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LostWrite {
    /// The write's id (UUID text).
    pub write_id: String,
    /// The key it wrote.
    pub key: String,
    /// Its position in the old primary's log.
    pub seq: u64,
    /// When the old primary committed (acknowledged) it, µs since the Unix epoch.
    pub commit_time_us: u64,
}

impl From<&pb::WriteRecord> for LostWrite {
    fn from(w: &pb::WriteRecord) -> Self {
        Self {
            write_id: w.write_id.clone(),
            key: w.key.clone(),
            seq: w.seq,
            commit_time_us: w.commit_time_us,
        }
    }
}

/// What a switchover did. Field names are the `ctl switchover --json` contract.
#[derive(Clone, Debug, Serialize)]
pub struct SwitchoverReport {
    /// The old primary.
    pub from: String,
    /// The new primary.
    pub to: String,
    /// The new epoch.
    pub epoch: u64,
    /// The old primary's log head when it was frozen.
    pub frozen_head_seq: u64,
    /// Writes of the old primary missing at the new one (checked: 0).
    pub rpo_writes: u64,
    /// How old the oldest of them was at the freeze, ms (0).
    pub rpo_ms: f64,
    /// Time from the freeze until the target accepted writes, ms.
    pub rto_ms: f64,
    /// Time from the freeze until the target had applied the old primary's whole log, ms.
    pub catch_up_ms: f64,
    /// Regions that could not be told the new role (they keep the old one until told).
    pub not_updated: Vec<String>,
}

/// What a failover did. Field names are the `ctl failover --json` contract.
#[derive(Clone, Debug, Serialize)]
pub struct FailoverReport {
    /// The lost primary.
    pub from: String,
    /// The new primary.
    pub to: String,
    /// The new epoch.
    pub epoch: u64,
    /// The new primary's position in the old primary's log: the fence. Writes after it are lost.
    pub fenced_after_seq: u64,
    /// The old primary's log head when the loss was read (writes it takes later, cut off, are
    /// divergent too: see `ctl divergent` after `ctl rejoin`).
    pub old_primary_head_seq: u64,
    /// Acknowledged writes that never reached the new primary, committed before the cut.
    pub rpo_writes: u64,
    /// Writes the cut-off old primary had acknowledged after the cut when the loss was read
    /// (split brain; it may take more until it rejoins or its RPO bound stops it: the rejoin
    /// report has the final count).
    pub split_brain_writes: u64,
    /// The RPO in time: how old the oldest lost write was when the old primary was cut off
    /// (the new primary's RPO lag at the failure: everything committed before that write
    /// survived), ms; 0 when nothing is lost. Measured from the write's commit, not from the
    /// newest write the new primary had, so an idle spell before the loss does not count.
    pub rpo_ms: f64,
    /// Time from cutting the old primary off until the target accepted writes, ms.
    pub rto_ms: f64,
    /// The lost writes, oldest first.
    pub lost_writes: Vec<LostWrite>,
    /// False when the old primary could not be asked for its log: then `lost_writes` is empty
    /// and `rpo_writes` counts only the writes the target had heard of (a lower bound).
    pub lost_writes_complete: bool,
    /// Secondaries that dropped their state for a copy of the new primary's.
    pub resynced: Vec<String>,
    /// Surviving regions that could not be told the new role.
    pub not_updated: Vec<String>,
}

/// What a rejoin did.
#[derive(Clone, Debug, Serialize)]
pub struct RejoinReport {
    /// The region that rejoined (now a secondary).
    pub region: String,
    /// The current primary.
    pub primary: String,
    /// The current epoch.
    pub epoch: u64,
    /// When the failover cut it off, µs since the Unix epoch (0: unknown, then every
    /// divergent write counts as lost at the cut).
    pub cut_at_us: u64,
    /// Divergent writes acknowledged before the cut: the failover's RPO (`rpo_writes`).
    pub lost_at_cut: u64,
    /// Divergent writes the isolated old primary acknowledged after the cut (split brain):
    /// clients were told they were stored, and they are lost too. Aurora's
    /// `rds.global_db_rpo` (`rpo_bound_ms`) bounds how long this goes on.
    pub split_brain_writes: u64,
    /// From the cut to the last split-brain acknowledgement, ms (0: none).
    pub split_brain_ms: f64,
    /// Every acknowledged write the cluster lost through this region: `lost_at_cut` +
    /// `split_brain_writes`.
    pub total_lost: u64,
    /// Its writes set aside (made after the fence, in an older epoch), oldest first.
    pub divergent_writes: Vec<LostWrite>,
}

/// Divergent writes split at the failover's cut.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CutSplit {
    /// Committed at or before the cut.
    pub lost_at_cut: u64,
    /// Committed after it.
    pub split_brain_writes: u64,
    /// From the cut to the last of those, ms.
    pub split_brain_ms: f64,
}

/// Was a write committed at `commit_us` acknowledged after the cut at `cut_us` (split brain)?
/// An unknown cut (0) counts everything as lost at the cut.
pub fn after_cut(commit_us: u64, cut_us: u64) -> bool {
    cut_us > 0 && commit_us > cut_us
}

/// Split `divergent` writes at `cut_at_us` (0: unknown, all lost at the cut).
pub fn split_at_cut(divergent: &[LostWrite], cut_at_us: u64) -> CutSplit {
    let after: Vec<&LostWrite> = divergent
        .iter()
        .filter(|w| after_cut(w.commit_time_us, cut_at_us))
        .collect();
    CutSplit {
        lost_at_cut: (divergent.len() - after.len()) as u64,
        split_brain_writes: after.len() as u64,
        split_brain_ms: after
            .iter()
            .map(|w| w.commit_time_us - cut_at_us)
            .max()
            .map_or(0.0, |us| us as f64 / 1000.0),
    }
}

/// A report as JSON (the `ctl --json` output of the role changes).
pub fn to_json(report: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_else(
        |e| serde_json::json!({"error": {"code": "Internal", "message": e.to_string()}}),
    )
}
