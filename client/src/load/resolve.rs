//! Resolving unknown outcomes after a run. A write whose reply never came (a timeout, a node
//! killed mid-request) may or may not have been committed. The load client names every write
//! (it sends the write id), so once the cluster is quiet the question has an answer: a write
//! whose id is in some region's own log was committed there — durably, since logs serve only
//! their durable head — and becomes an acknowledged write with the version and context the log
//! holds; one found in no log was not committed. Only writes whose origin could not be asked
//! (or whose log was truncated past the run's start: see `log_retention_ms`) stay unknown, and
//! the checker skips (and counts) their keys.
//!
//! Multi-Region strong consistency adds a case: a write is committed once a second participant
//! has it, and its origin logs it only when it learns that — an origin killed in between never
//! logs it (until a later write of the key teaches it), yet the write is committed, visible to
//! strong reads and possibly a key's final value. So there, a write found in no log but seen
//! elsewhere — as a region's current write, or returned by a strong read — is committed too
//! ([`Seen`]); one seen nowhere is counted as not applied, though it may have been committed
//! and overwritten before anyone looked (harmless to the checks: a write no one saw).

use std::collections::HashMap;

use meridian_proto::v1 as pb;
use serde::Serialize;

use crate::{
    check::history::{Ctx, Ver, WriteRec, WriteStatus, ctx_from_pb},
    control::client::RegionClient,
};

/// A committed write seen somewhere other than its origin's log (strong mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its version.
    pub version: Ver,
    /// Its causal context.
    pub context: Ctx,
    /// A delete?
    pub tombstone: bool,
}

/// What resolution found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Unknown-outcome writes found in a region's log (or, in strong mode, seen elsewhere):
    /// committed.
    pub applied: u64,
    /// Of those: found in no log, seen as a region's current write or by a strong read.
    pub applied_unlogged: u64,
    /// Unknown-outcome writes found in no log: not committed.
    pub not_applied: u64,
    /// Unknown-outcome writes left unknown (a region's log could not be read).
    pub unresolved: u64,
}

/// Every region's own log after its head at the run's start, by write id; and whether every
/// log could be read whole. A region that restarted without its state since (another
/// incarnation) is read from its new log's start, and cannot vouch that a write is in no log:
/// its old log is gone.
async fn logs_by_id(nodes: &[RunStart]) -> (HashMap<String, pb::WriteRecord>, bool) {
    let mut by_id = HashMap::new();
    let mut complete = true;
    for node in nodes {
        let c = &node.client;
        let same_incarnation = match c.status().await {
            Ok(s) => s.incarnation == node.incarnation,
            Err(_) => false,
        };
        complete &= same_incarnation;
        let mut after = if same_incarnation { node.log_head } else { 0 };
        loop {
            let reply = match c.log_page(after, 0).await {
                Ok(reply) => reply,
                Err(_) => {
                    complete = false;
                    break;
                }
            };
            // Truncated past where this run started: the writes in between are gone from the
            // log, so this region cannot vouch that a write is in no log.
            complete &= reply.base_seq <= after;
            let page = reply.writes;
            match page.last() {
                Some(last) if last.seq > after => after = last.seq,
                _ => break,
            }
            by_id.extend(page.into_iter().map(|w| (w.write_id.clone(), w)));
        }
    }
    (by_id, complete)
}

/// A region's node as it was when the run started.
pub struct RunStart {
    /// A client for it.
    pub client: RegionClient,
    /// Its log head then.
    pub log_head: u64,
    /// Its incarnation then.
    pub incarnation: String,
}

/// Resolve the unknown-outcome writes of `writes` against the logs of `nodes` (and, for one in
/// no log, against `seen`: committed writes seen elsewhere, by write id). Call once the cluster
/// is quiet.
pub async fn resolve_unknown(
    nodes: &[RunStart],
    writes: &mut [WriteRec],
    seen: &HashMap<String, Seen>,
) -> Resolution {
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
            None if seen.contains_key(&w.write_id) => {
                let s = &seen[&w.write_id];
                w.status = WriteStatus::Acked;
                w.version = Some(s.version.clone());
                w.context = s.context.clone();
                w.tombstone = s.tombstone;
                r.applied += 1;
                r.applied_unlogged += 1;
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
