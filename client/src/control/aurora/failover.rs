//! Unplanned failover: the primary region is lost, cut off, and the target promoted with a
//! fence at what it had; the acknowledged writes it never got are listed from the old
//! primary's own log (an out-of-band observer's view).

use std::time::Instant;

use meridian_proto::v1 as pb;

use super::{
    fleet::{Fleet, ms, wall_us},
    reports::{FailoverReport, after_cut, split_at_cut},
};
use crate::{
    control::client::{Reach, Role},
    error::{Result, ResultExt, bail},
};

/// Unplanned failover to `to`: the primary is cut off and treated as lost; `to` is promoted with
/// what it has, and the acknowledged writes it never got are reported.
pub async fn failover(fleet: &Fleet, to: &str) -> Result<FailoverReport> {
    let current = fleet.current().await?;
    let from = current.primary.clone();
    if to == from {
        bail!("{to} is the primary; fail over to a secondary");
    }
    current.up_to_date(to)?;
    let old_reachable = current.status(&from).is_ok();
    let epoch = current.epoch + 1;

    // The region is lost: cut it off from everyone (the target passes the partition on).
    let (start, cut_us) = (Instant::now(), wall_us());
    fleet
        .call("partition", to, |c| {
            c.partition(&from, None, Reach::Cluster)
        })
        .await?;
    // Once the target's stream from the old primary is down, its position there is final.
    let link = fleet
        .await_link(to, &from, "did not stop pulling", |l| {
            !l.connected && l.setting.as_ref().is_some_and(|s| s.partitioned)
        })
        .await?;
    let fenced_after_seq = link.applied_seq;

    let promote = Role {
        primary: to.to_owned(),
        epoch,
        fences: vec![pb::Fence {
            region: from.clone(),
            after_seq: fenced_after_seq,
            epoch,
            cut_at_us: cut_us,
        }],
        resync: false,
    };
    fleet.set_role(to, promote.clone()).await.with_context(|| {
        format!("failover to {to} failed: {from} stays partitioned (`meridian ctl heal {from}` undoes it)")
    })?;
    let rto = start.elapsed();

    let secondaries = fleet.others(&[to, &from]);
    let resync = Role {
        resync: true,
        ..promote
    };
    let not_updated = fleet.tell(&secondaries, &resync).await;
    let resynced = secondaries
        .into_iter()
        .filter(|r| !not_updated.contains(r))
        .collect();

    // The observer's view: the old primary's own log after the fence.
    let loss = if old_reachable {
        fleet.loss(&from, fenced_after_seq, cut_us).await.ok()
    } else {
        None
    };
    let mut split_brain_writes = 0;
    let (lost_writes, rpo_ms, complete) = match loss {
        Some((mut lost, rpo_ms)) => {
            // Writes the old primary acknowledged after the cut are split brain, not RPO.
            let split = split_at_cut(&lost, cut_us);
            split_brain_writes = split.split_brain_writes;
            lost.retain(|w| !after_cut(w.commit_time_us, cut_us));
            (lost, rpo_ms, true)
        }
        // The target's own view: how long its oldest write heard of but not applied waited.
        None => (Vec::new(), link.rpo_lag_ms, false),
    };
    // Without the old primary, only the writes the target had heard of are known.
    let old_primary_head_seq = match lost_writes.last() {
        Some(w) if split_brain_writes > 0 => w.seq + split_brain_writes,
        Some(w) => w.seq,
        None if complete => fenced_after_seq,
        None => link.origin_head_seq.max(fenced_after_seq),
    };
    Ok(FailoverReport {
        old_primary_head_seq,
        rpo_writes: if complete {
            lost_writes.len() as u64
        } else {
            old_primary_head_seq - fenced_after_seq
        },
        split_brain_writes,
        from,
        to: to.to_owned(),
        epoch,
        fenced_after_seq,
        rpo_ms,
        rto_ms: ms(rto),
        lost_writes,
        lost_writes_complete: complete,
        resynced,
        not_updated,
    })
}
