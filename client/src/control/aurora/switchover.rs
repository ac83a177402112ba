//! Planned switchover: freeze the primary, wait for the target to catch up, promote it, tell
//! everyone else. RPO 0 (checked), RTO measured.

use std::time::Instant;

use meridian_proto::v1 as pb;

use super::{
    fleet::{Fleet, ms, wall_us},
    reports::SwitchoverReport,
};
use crate::{
    control::client::Role,
    error::{Error, Result, ResultExt, bail},
};

/// Planned switchover of the primary to `to`: RPO 0, RTO measured.
pub async fn switchover(fleet: &Fleet, to: &str) -> Result<SwitchoverReport> {
    let current = fleet.current().await?;
    let from = current.primary.clone();
    if to == from {
        bail!("{to} is already the primary (epoch {})", current.epoch);
    }
    let target = current.up_to_date(to)?;
    current
        .status(&from)
        .context("the primary must be reachable for a switchover (use failover when it is lost)")?;
    let partitioned =
        |l: &pb::LinkStatus| l.origin == from && l.setting.as_ref().is_some_and(|s| s.partitioned);
    if target.links.iter().any(partitioned) {
        bail!(
            "{to} is partitioned from the primary {from} and could not catch up; heal the link first"
        );
    }
    let epoch = current.epoch + 1;

    let (start, cut_us) = (Instant::now(), wall_us());
    let frozen = fleet.freeze(&from, true).await?;
    let promoted = async {
        fleet
            .await_link(to, &from, "did not catch up", |l| {
                l.applied_seq >= frozen.head_seq
            })
            .await
            .with_context(|| {
                format!(
                    "{to} could not catch up with {from} (log head {})",
                    frozen.head_seq
                )
            })?;
        let caught_up = start.elapsed();
        let role = Role {
            primary: to.to_owned(),
            epoch,
            ..Role::default()
        };
        if let Err(e) = fleet.set_role(to, role).await {
            // The call may have landed even though its answer did not: ask.
            let landed = fleet
                .status(to)
                .await
                .is_ok_and(|s| s.primary == to && s.epoch == epoch);
            if !landed {
                return Err(e);
            }
        }
        Ok::<_, Error>((caught_up, start.elapsed()))
    }
    .await;
    let (caught_up, rto) = match promoted {
        Ok(t) => t,
        Err(e) => {
            let undo = match fleet.freeze(&from, false).await {
                Ok(_) => format!(
                    "{from} was unfrozen and is still the primary (epoch {})",
                    current.epoch
                ),
                Err(u) => format!(
                    "{from} could NOT be unfrozen ({}): it takes no writes until a switchover or failover moves the role",
                    u.chain()
                ),
            };
            return Err(e.context(format!("switchover to {to} aborted; {undo}")));
        }
    };

    let others = fleet.others(&[to]);
    let role = Role {
        primary: to.to_owned(),
        epoch,
        ..Role::default()
    };
    let not_updated = fleet.tell(&others, &role).await;

    // Check what was promised: nothing of the old primary's log is missing at the new one.
    let applied = fleet
        .await_link(to, &from, "has no link", |_| true)
        .await?
        .applied_seq;
    let (lost, rpo_ms) = fleet.loss(&from, applied, cut_us).await?;
    Ok(SwitchoverReport {
        from,
        to: to.to_owned(),
        epoch,
        frozen_head_seq: frozen.head_seq,
        rpo_writes: lost.len() as u64,
        rpo_ms,
        rto_ms: ms(rto),
        catch_up_ms: ms(caught_up),
        not_updated,
    })
}
