//! `ctl switchover`, `failover` and `rejoin`: the Aurora Global control plane over every node
//! of the cluster, and the text of its reports.

use meridian_client::control::{
    RegionClient, Session,
    aurora::{self, Fleet, LostWrite},
};
use serde_json::Value;

use super::{CtlArgs, CtlCommand};

/// The Aurora Global role changes, which talk to every node of the cluster; `None` for the
/// other commands.
pub(super) async fn role_change(
    args: &CtlArgs,
    cluster: &meridian_core::config::ClusterConfig,
) -> Option<anyhow::Result<(Value, String)>> {
    let timeout_ms = match &args.command {
        CtlCommand::Switchover { timeout_ms, .. } | CtlCommand::Failover { timeout_ms, .. } => {
            *timeout_ms
        }
        CtlCommand::Rejoin { .. } => 30_000,
        _ => return None,
    };
    let session = Session::admin(args.admin_token.as_deref());
    let opts = aurora::Options {
        catch_up_timeout: std::time::Duration::from_millis(timeout_ms),
        ..aurora::Options::default()
    };
    let nodes: meridian_client::Result<Vec<_>> = cluster
        .regions
        .iter()
        .map(|r| Ok((r.name.clone(), RegionClient::new(r.listen, &session)?)))
        .collect();
    let fleet = match nodes {
        Ok(nodes) => Fleet::new(nodes, opts),
        Err(e) => return Some(Err(e.into())),
    };
    Some(match &args.command {
        CtlCommand::Switchover { to, .. } => aurora::switchover(&fleet, to).await.map(|r| {
            let text = format!(
                "switchover {} -> {} done (epoch {})\n  RPO: {} writes lost ({:.1} ms)\n  RTO: {:.1} ms without a writer ({} frozen at log seq {}; {} caught up after {:.1} ms)",
                r.from, r.to, r.epoch, r.rpo_writes, r.rpo_ms, r.rto_ms, r.from, r.frozen_head_seq, r.to, r.catch_up_ms
            ) + &not_updated_text(&r.not_updated);
            (aurora::to_json(&r), text)
        }),
        CtlCommand::Failover { to, .. } => aurora::failover(&fleet, to).await.map(|r| {
            let mut text = format!(
                "failover {} -> {} done (epoch {}); {} is cut off and still believes it is the primary\n  RTO: {:.1} ms without a writer (from the cut until {} accepted writes)\n  RPO: {} acknowledged writes lost, the oldest {:.1} ms old at the cut ({} had {}'s log up to seq {}; its head was {})",
                r.from, r.to, r.epoch, r.from, r.rto_ms, r.to, r.rpo_writes, r.rpo_ms, r.to, r.from, r.fenced_after_seq, r.old_primary_head_seq
            );
            if !r.lost_writes_complete {
                text += &format!("\n  ({} did not answer: the lost writes cannot be listed; the count is what {} had heard of)", r.from, r.to);
            }
            text += &lost_text(&r.lost_writes);
            if !r.resynced.is_empty() {
                text += &format!("\n  resynced from {}: {}", r.to, r.resynced.join(", "));
            }
            text += &not_updated_text(&r.not_updated);
            if r.split_brain_writes > 0 {
                text += &format!("\n  split brain: {} more writes acknowledged by {} after the cut so far", r.split_brain_writes, r.from);
            }
            text += &format!("\n  writes taken by {0} from now on are divergent too; bring it back with `meridian ctl rejoin {0}`", r.from);
            (aurora::to_json(&r), text)
        }),
        CtlCommand::Rejoin { target } => aurora::rejoin(&fleet, target).await.map(|r| {
            let text = format!(
                "{} rejoined as a secondary of {} (epoch {}), its state copied from {}; {} divergent writes set aside (`meridian ctl --region {} divergent`)\n  acknowledged writes lost: {} at the cut + {} acknowledged in split brain (for {:.1} ms after the cut) = {}",
                r.region, r.primary, r.epoch, r.primary, r.divergent_writes.len(), r.region,
                r.lost_at_cut, r.split_brain_writes, r.split_brain_ms, r.total_lost
            ) + &lost_text(&r.divergent_writes);
            (aurora::to_json(&r), text)
        }),
        _ => unreachable!("filtered above"),
    }
    .map_err(anyhow::Error::from))
}

fn lost_text(writes: &[LostWrite]) -> String {
    writes
        .iter()
        .map(|w| {
            format!(
                "\n    seq {:<6} key {:<16} write {}  committed at {} µs",
                w.seq, w.key, w.write_id, w.commit_time_us
            )
        })
        .collect()
}

fn not_updated_text(regions: &[String]) -> String {
    if regions.is_empty() {
        String::new()
    } else {
        format!(
            "\n  warning: could not tell {} the new role (they keep the old one until told)",
            regions.join(", ")
        )
    }
}
