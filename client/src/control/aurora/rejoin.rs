//! Rejoin: a primary lost to a failover comes back as a secondary, its state replaced by the
//! primary's and its divergent writes set aside (listable, never merged).

use super::{
    fleet::Fleet,
    reports::{LostWrite, RejoinReport, split_at_cut},
};
use crate::{
    control::client::{Reach, Role},
    error::{Result, ResultExt, bail},
};

/// A region cut off by a failover (or any secondary) comes back: heal its links, make it a
/// secondary of the current primary with a resync. Its divergent writes are set aside.
pub async fn rejoin(fleet: &Fleet, region: &str) -> Result<RejoinReport> {
    let current = fleet.current().await?;
    if region == current.primary {
        bail!("{region} is the primary (epoch {})", current.epoch);
    }
    current.status(region).context("start its node first")?;
    let primary = current.primary.clone();
    // Resync before healing: set the divergent writes aside and take the primary's state while
    // the region is still cut off, so it never merges the new primary's log into its split-
    // brain state (Aurora Global mode has no conflicts to report). The snapshot is an admin
    // call, not replication, so it reaches the primary through the emulated partition.
    let role = Role {
        primary: primary.clone(),
        epoch: current.epoch,
        fences: current.fences.clone(),
        resync: true,
    };
    fleet.set_role(region, role).await?;
    let table = fleet
        .call("heal", &primary, |p| {
            p.heal(Some(region), None, Reach::Cluster)
        })
        .await?;
    if table.unreachable.iter().any(|r| r == region) {
        fleet
            .call("heal", region, |c| c.heal(Some(region), None, Reach::Local))
            .await?;
    }
    let divergent = fleet.call("divergent", region, |c| c.divergent()).await?;
    let divergent_writes: Vec<LostWrite> = divergent.iter().map(LostWrite::from).collect();
    // The newest fence cutting this region off says when it was cut.
    let cut_at_us = current
        .fences
        .iter()
        .filter(|f| f.region == region)
        .max_by_key(|f| f.epoch)
        .map_or(0, |f| f.cut_at_us);
    let split = split_at_cut(&divergent_writes, cut_at_us);
    Ok(RejoinReport {
        region: region.to_owned(),
        primary,
        epoch: current.epoch,
        cut_at_us,
        lost_at_cut: split.lost_at_cut,
        split_brain_writes: split.split_brain_writes,
        split_brain_ms: split.split_brain_ms,
        total_lost: divergent_writes.len() as u64,
        divergent_writes,
    })
}
