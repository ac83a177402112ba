//! After the load: wait until the regions are quiescent, read every region's final state and
//! conflict feed, and (for `meridian check`) run the checker on a recorded history.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, Instant},
};

use meridian_core::config::ClusterConfig;
use meridian_proto::v1 as pb;

use crate::{
    check::{
        checker::{CheckReport, check_with_set_aside},
        history::{FinalItem, FinalStates, LossEvent, Ver, WriteRec},
        strong::check_strong,
    },
    control::{aurora::set_aside, client::RegionClient, session::Session},
    error::{Result, ResultExt, bail},
};

/// Connect to every region of the cluster; the status of each.
pub async fn cluster_status(
    cluster: &ClusterConfig,
    token: Option<&str>,
) -> Result<Vec<(RegionClient, pb::NodeStatus)>> {
    let session = Session::admin(token);
    let mut out = Vec::new();
    for r in &cluster.regions {
        let c = RegionClient::new(r.listen, &session)?;
        let s = c.status().await.with_context(|| {
            format!(
                "cannot reach the node of {} at {} — is the cluster running?",
                r.name, r.listen
            )
        })?;
        out.push((c, s));
    }
    Ok(out)
}

/// Check a recorded history against a running cluster (`meridian check`): wait until the
/// regions are quiescent, read every region's final state and whole conflict feed, keep the
/// history's keys, and run the checker (with its strong-consistency checks in a strong
/// cluster: no LWW loser, one causal chain per key, every write in every region's history). `Err` when a node cannot be reached, or the cluster
/// does not settle within `converge_timeout`.
pub async fn check_history(
    cluster: &ClusterConfig,
    token: Option<&str>,
    writes: &[WriteRec],
    converge_timeout: Duration,
) -> Result<CheckReport> {
    let status = cluster_status(cluster, token).await?;
    if !wait_quiescent(&status, converge_timeout).await {
        bail!(
            "the cluster did not settle within {converge_timeout:?}: some regions still have writes to apply (a partition?)"
        );
    }
    let keys: HashSet<&str> = writes.iter().map(|w| w.key.as_str()).collect();
    let mut finals: FinalStates = BTreeMap::new();
    let mut events = Vec::new();
    let mut feed_complete = true;
    let aurora = status
        .first()
        .is_some_and(|(_, s)| s.mode == pb::Mode::AuroraGlobal as i32);
    for (c, s) in &status {
        let (mut state, _) = dump(c, "\0").await?;
        state.retain(|k, _| keys.contains(k.as_str()));
        finals.insert(s.region.clone(), state);
        let (evs, complete) = events_since(c, 0, "").await?;
        events.extend(evs.into_iter().filter(|e| keys.contains(e.key.as_str())));
        feed_complete &= complete;
    }
    let set_aside = if aurora {
        let clients: Vec<RegionClient> = status.iter().map(|(c, _)| c.clone()).collect();
        set_aside(&clients).await
    } else {
        HashMap::new()
    };
    let mut report = check_with_set_aside(writes, &finals, &events, feed_complete, &set_aside);
    if status
        .first()
        .is_some_and(|(_, s)| s.multi_region_consistency == "strong")
    {
        // No strong reads in a recorded history (and no times): the per-key order of the
        // writes is checked, the real-time order of reads has nothing to check.
        check_strong(writes, &[], &finals, &events, &mut report);
    }
    Ok(report)
}

/// Wait until every region has applied every other region's log (or `timeout` passes).
pub async fn wait_quiescent(nodes: &[(RegionClient, pb::NodeStatus)], timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let mut statuses = Vec::new();
        for (c, _) in nodes {
            match c.status().await {
                Ok(s) => statuses.push(s),
                Err(_) => break,
            }
        }
        if statuses.len() == nodes.len() {
            let heads: HashMap<&str, u64> = statuses
                .iter()
                .map(|s| (s.region.as_str(), s.log_head))
                .collect();
            let caught_up = statuses.iter().all(|s| {
                s.links.iter().all(|l| {
                    l.applied_seq >= heads.get(l.origin.as_str()).copied().unwrap_or(0)
                        || fenced(s, l)
                })
            });
            if caught_up {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Aurora Global: after a failover the old primary's divergent tail is never applied.
fn fenced(s: &pb::NodeStatus, l: &pb::LinkStatus) -> bool {
    s.mode == pb::Mode::AuroraGlobal as i32 && l.setting.as_ref().is_some_and(|x| x.partitioned)
}

/// A region's whole state, and the sum of the counters under `counter_prefix`.
pub async fn dump(
    c: &RegionClient,
    counter_prefix: &str,
) -> Result<(HashMap<String, FinalItem>, i64)> {
    Ok(final_items(&c.dump().await?, counter_prefix))
}

/// A dumped state as final items, and the sum of the counters under `counter_prefix`.
pub fn final_items(
    records: &[pb::WriteRecord],
    counter_prefix: &str,
) -> (HashMap<String, FinalItem>, i64) {
    let mut state = HashMap::new();
    let mut sum = 0i64;
    for w in records {
        if w.key.starts_with(counter_prefix) && !w.tombstone {
            sum += std::str::from_utf8(&w.value)
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0);
        }
        state.insert(
            w.key.clone(),
            FinalItem {
                write_id: w.write_id.clone(),
                version: Ver::from_pb(w.version.as_ref()),
                tombstone: w.tombstone,
            },
        );
    }
    (state, sum)
}

/// Every loss event a node has after `after` (a position in its feed of `incarnation`; empty:
/// any), paging through the feed; and whether the feed still held all of them — false when
/// events fell out of the bounded feed or the node restarted without its state.
pub async fn events_since(
    c: &RegionClient,
    mut after: u64,
    incarnation: &str,
) -> Result<(Vec<LossEvent>, bool)> {
    let mut out = Vec::new();
    let mut complete = true;
    let mut incarnation = incarnation.to_owned();
    loop {
        let r = c.conflicts(after, 10_000, &incarnation).await?;
        // A node that restarted without its state lost the events it had recorded.
        complete &= r.dropped == 0 && !r.reset;
        incarnation = r.incarnation.clone();
        if r.events.is_empty() {
            break;
        }
        out.extend(r.events.iter().map(LossEvent::from_pb));
        after = r.next;
    }
    Ok((out, complete))
}
