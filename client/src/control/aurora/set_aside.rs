//! The writes Aurora Global failovers set aside, for the checker.

use std::collections::HashMap;

use super::reports::after_cut;
use crate::{check::checker::SetAside, control::client::RegionClient};

/// Every acknowledged write that Aurora Global failovers set aside, by write id, with its kind:
/// read from each node's fences and its own divergent list (the writes of its log that a fence
/// cuts off). For the checker, which then accounts for them instead of calling them missing.
/// Nodes that cannot be asked are skipped (their writes then count as unaccounted).
pub async fn set_aside(nodes: &[RegionClient]) -> HashMap<String, SetAside> {
    let mut out = HashMap::new();
    for c in nodes {
        let Ok(status) = c.status().await else {
            continue;
        };
        let cut_at = status
            .fences
            .iter()
            .filter(|f| f.region == status.region)
            .map(|f| (f.after_seq, f.epoch, f.cut_at_us))
            .collect::<Vec<_>>();
        if cut_at.is_empty() {
            continue;
        }
        let Ok(divergent) = c.divergent().await else {
            continue;
        };
        for w in divergent {
            // The fence that cuts it (the old primary's write after the fence, in an older epoch).
            let cut_us = cut_at
                .iter()
                .filter(|(after, epoch, _)| w.seq > *after && w.epoch < *epoch)
                .map(|(_, _, cut)| *cut)
                .min()
                .unwrap_or(0);
            let kind = if after_cut(w.commit_time_us, cut_us) {
                SetAside::SplitBrain
            } else {
                SetAside::LostAtCut
            };
            out.insert(w.write_id, kind);
        }
    }
    out
}
