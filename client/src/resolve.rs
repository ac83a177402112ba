//! Resolving unknown outcomes after a run. A write whose reply never came (a timeout, a node
//! killed mid-request) may or may not have been committed. The load client names every write
//! (it sends the write id), so once the cluster is quiet the question has an answer: a write
//! whose id is in some region's own log was committed there — durably, since logs serve only
//! their durable head — and becomes an acknowledged write with the version and context the log
//! holds; one found in no log was not committed. Only writes whose origin could not be asked
//! stay unknown, and the checker skips (and counts) their keys.

use std::collections::HashMap;

use meridian_proto::v1 as pb;
use serde::Serialize;

use crate::{
    client::RegionClient,
    history::{Ver, WriteRec, WriteStatus, ctx_from_pb},
};

/// What resolution found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Unknown-outcome writes found in a region's log: committed.
    pub applied: u64,
    /// Unknown-outcome writes found in no log: not committed.
    pub not_applied: u64,
    /// Unknown-outcome writes left unknown (a region's log could not be read).
    pub unresolved: u64,
}

/// Every region's own log after `after_seq` (its head when the run started), by write id.
/// `Err` names the first region whose log could not be read.
async fn logs_by_id(nodes: &[(RegionClient, u64)]) -> (HashMap<String, pb::WriteRecord>, bool) {
    let mut by_id = HashMap::new();
    let mut complete = true;
    for (c, after_seq) in nodes {
        let mut after = *after_seq;
        loop {
            let req = pb::LogRequest {
                after_seq: after,
                up_to_seq: 0,
            };
            let page = match c.admin().log(c.request(req)).await {
                Ok(r) => r.into_inner().writes,
                Err(_) => {
                    complete = false;
                    break;
                }
            };
            match page.last() {
                Some(last) if last.seq > after => after = last.seq,
                _ => break,
            }
            by_id.extend(page.into_iter().map(|w| (w.write_id.clone(), w)));
        }
    }
    (by_id, complete)
}

/// Resolve the unknown-outcome writes of `writes` against the logs of `nodes` (each with its
/// log head at the run's start). Call once the cluster is quiet.
pub async fn resolve_unknown(nodes: &[(RegionClient, u64)], writes: &mut [WriteRec]) -> Resolution {
    let mut r = Resolution::default();
    if !writes.iter().any(|w| w.status == WriteStatus::Unknown) {
        return r;
    }
    let (logs, complete) = logs_by_id(nodes).await;
    for w in writes
        .iter_mut()
        .filter(|w| w.status == WriteStatus::Unknown)
    {
        match logs.get(&w.write_id) {
            Some(rec) => {
                w.status = WriteStatus::Acked;
                w.version = Some(Ver::from_pb(rec.version.as_ref()));
                w.context = ctx_from_pb(rec.context.as_ref());
                w.tombstone = rec.tombstone;
                r.applied += 1;
            }
            // Only "in no log" when every log could be read.
            None if complete => {
                w.status = WriteStatus::Failed;
                r.not_applied += 1;
            }
            None => r.unresolved += 1,
        }
    }
    r
}
