//! The Aurora Global control plane: planned switchover, unplanned failover, and the rejoin of a
//! lost primary, orchestrated from outside the nodes over their Admin services (as a managed
//! service's control plane would be), with the recovery point (RPO) and the unavailable time
//! (RTO) measured on the way.
//!
//! - [`switchover`]: freeze the primary (its log head `H` is then final), wait until the target
//!   has applied the primary's log up to `H`, promote the target with the next epoch, then tell
//!   every other region (the old primary becomes a secondary; that also unfreezes it). Nothing
//!   can be lost: the report checks it (RPO 0 writes) and gives the RTO, the time from the freeze
//!   until the target accepted writes. A failure midway unfreezes the old primary.
//! - [`failover`]: the primary region is lost. It is cut off (a partition of all its links),
//!   the target's applied position `N` in the old primary's log is read once its pull stream is
//!   down, and the target is promoted with a fence at `N`: the old primary's writes after `N`
//!   are divergent and never applied anywhere. The other secondaries resync from the new
//!   primary (they may hold old-primary writes beyond `N`). The old primary is not told: it is
//!   cut off and still believes it is the primary. The data loss is read from the old
//!   primary's own log after `N` — an out-of-band observer's view, which the playground can
//!   afford and a real region loss would not give.
//! - [`rejoin`]: the old primary comes back: its links heal and it takes the current role with
//!   a resync, so its state becomes the primary's; its divergent writes stay in its own log,
//!   listable (`Admin/Divergent`), never merged.
//!
//! The primary is whatever the nodes with the highest epoch say: after a failover the cut-off
//! old primary still claims the role, in an older epoch.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use futures::future::join_all;
use meridian_proto::v1 as pb;
use serde::Serialize;

use crate::client::RegionClient;

/// Timeouts of the orchestration.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long a switchover waits for the target to catch up (and a failover for the
    /// target's stream from the lost primary to stop) before giving up.
    pub catch_up_timeout: Duration,
    /// How often the target's status is polled meanwhile (bounds the RTO's resolution).
    pub poll_interval: Duration,
    /// Deadline of each single admin call.
    pub call_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            catch_up_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(2),
            call_timeout: Duration::from_secs(5),
        }
    }
}

/// The node of every region of a cluster.
#[derive(Clone, Debug)]
pub struct Fleet {
    nodes: Vec<(String, RegionClient)>,
    opts: Options,
}

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

/// The Aurora Global role the cluster agrees on: the view of the nodes with the highest epoch.
#[derive(Clone, Debug)]
struct Current {
    primary: String,
    epoch: u64,
    /// Status of each region, or why it could not be had.
    statuses: Vec<(String, Result<pb::NodeStatus, String>)>,
    /// The fences those nodes hold (one per failover so far).
    fences: Vec<pb::Fence>,
}

impl Current {
    fn status(&self, region: &str) -> anyhow::Result<&pb::NodeStatus> {
        match self.statuses.iter().find(|(r, _)| r == region) {
            None => bail!("{region:?} is not a region of the cluster"),
            Some((_, Err(e))) => bail!("cannot reach {region}: {e}"),
            Some((_, Ok(s))) => Ok(s),
        }
    }

    /// The status of `region`, which must be reachable and know the current role (a region
    /// cut off by a failover does not, and must rejoin before it can be promoted).
    fn up_to_date(&self, region: &str) -> anyhow::Result<&pb::NodeStatus> {
        let s = self.status(region)?;
        if s.epoch < self.epoch {
            bail!(
                "{region} is at epoch {} and has not learnt the current role (epoch {}, primary {}): `meridian ctl rejoin {region}` first",
                s.epoch,
                self.epoch,
                self.primary
            );
        }
        Ok(s)
    }
}

/// A duration in milliseconds, to the µs.
fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Wall-clock time, µs since the Unix epoch (the clock the nodes stamp commit times with: the
/// playground's regions share one machine).
fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// An error naming the call, the region, and the node's status.
fn rpc_error(what: &str, region: &str, s: tonic::Status) -> anyhow::Error {
    anyhow!("{what} at {region}: {:?}: {}", s.code(), s.message())
}

impl Fleet {
    /// The nodes of a cluster, by region name.
    pub fn new(nodes: Vec<(String, RegionClient)>, opts: Options) -> Self {
        Self { nodes, opts }
    }

    fn client(&self, region: &str) -> anyhow::Result<&RegionClient> {
        self.nodes
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, c)| c)
            .with_context(|| {
                let names: Vec<_> = self.nodes.iter().map(|(r, _)| r.as_str()).collect();
                format!(
                    "{region:?} is not a region of the cluster ({})",
                    names.join(", ")
                )
            })
    }

    /// One admin call with the call deadline; errors name the call and the region.
    async fn call<T>(
        &self,
        what: &str,
        region: &str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.opts.call_timeout, fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(rpc_error(what, region, s)),
            Err(_) => bail!(
                "{what} at {region}: no answer within {:?}",
                self.opts.call_timeout
            ),
        }
    }

    async fn status(&self, region: &str) -> anyhow::Result<pb::NodeStatus> {
        let c = self.client(region)?;
        self.call(
            "status",
            region,
            c.admin().status(c.request(pb::StatusRequest {})),
        )
        .await
    }

    async fn freeze(&self, region: &str, frozen: bool) -> anyhow::Result<pb::FreezeReply> {
        let c = self.client(region)?;
        self.call(
            "freeze",
            region,
            c.admin().freeze(c.request(pb::FreezeRequest { frozen })),
        )
        .await
    }

    async fn set_role(
        &self,
        region: &str,
        req: pb::SetRoleRequest,
    ) -> anyhow::Result<pb::NodeStatus> {
        let c = self.client(region)?;
        self.call("set role", region, c.admin().set_role(c.request(req)))
            .await
    }

    /// `region`'s own writes with seq in (`after`, `up_to`] (`up_to` 0: the head).
    async fn log(
        &self,
        region: &str,
        after_seq: u64,
        up_to_seq: u64,
    ) -> anyhow::Result<Vec<pb::WriteRecord>> {
        // The node answers in pages (bounded in bytes); ask until a page comes back empty.
        let c = self.client(region)?;
        let mut out: Vec<pb::WriteRecord> = Vec::new();
        let mut after = after_seq;
        loop {
            let req = pb::LogRequest {
                after_seq: after,
                up_to_seq,
            };
            let page = self
                .call("log", region, c.admin().log(c.request(req)))
                .await?
                .writes;
            match page.last() {
                Some(last) if last.seq > after => after = last.seq,
                _ => return Ok(out),
            }
            out.extend(page);
        }
    }

    /// Every region's status, and the role the highest epoch agrees on.
    async fn current(&self) -> anyhow::Result<Current> {
        let statuses: Vec<_> = join_all(self.nodes.iter().map(|(r, _)| async move {
            (
                r.clone(),
                self.status(r).await.map_err(|e| format!("{e:#}")),
            )
        }))
        .await;
        let leader = statuses
            .iter()
            .filter_map(|(_, s)| s.as_ref().ok())
            .max_by_key(|s| s.epoch)
            .context("no region of the cluster answers")?;
        if leader.mode != pb::Mode::AuroraGlobal as i32 || leader.primary.is_empty() {
            bail!(
                "the cluster does not run in aurora-global mode (start the nodes with --mode aurora-global)"
            );
        }
        let (primary, epoch) = (leader.primary.clone(), leader.epoch);
        let fences = leader.fences.clone();
        Ok(Current {
            primary,
            epoch,
            fences,
            statuses,
        })
    }

    /// Poll `region`'s link from `origin` until `done` holds; `Err` after the catch-up timeout.
    async fn await_link(
        &self,
        region: &str,
        origin: &str,
        what: &str,
        done: impl Fn(&pb::LinkStatus) -> bool,
    ) -> anyhow::Result<pb::LinkStatus> {
        let deadline = Instant::now() + self.opts.catch_up_timeout;
        loop {
            let s = self.status(region).await?;
            let link = s
                .links
                .into_iter()
                .find(|l| l.origin == origin)
                .with_context(|| format!("{region} has no link from {origin}"))?;
            if done(&link) {
                return Ok(link);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{region} {what} within {:?} (it has applied {origin}'s log up to seq {}, connected: {}, link partitioned: {})",
                    self.opts.catch_up_timeout,
                    link.applied_seq,
                    link.connected,
                    link.setting.is_some_and(|s| s.partitioned)
                );
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }

    /// Tell every region in `regions` the role `req`, concurrently; return those that failed.
    async fn tell(&self, regions: &[String], req: &pb::SetRoleRequest) -> Vec<String> {
        let results = join_all(
            regions
                .iter()
                .map(|r| async move { (r.clone(), self.set_role(r, req.clone()).await) }),
        )
        .await;
        results
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(r, _)| r)
            .collect()
    }

    fn others(&self, except: &[&str]) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(r, _)| r.clone())
            .filter(|r| !except.contains(&r.as_str()))
            .collect()
    }

    /// The writes of `old`'s log after `after`: the loss of a target that applied up to
    /// `after`, if `old` was cut off at `cut_us` (wall clock, µs). Returns the writes and the
    /// RPO in time: how old the oldest of them was at the cut, ms (0 when none is lost).
    async fn loss(
        &self,
        old: &str,
        after: u64,
        cut_us: u64,
    ) -> anyhow::Result<(Vec<LostWrite>, f64)> {
        let lost: Vec<LostWrite> = self
            .log(old, after, 0)
            .await?
            .iter()
            .map(LostWrite::from)
            .collect();
        let rpo_ms = lost.first().map_or(0.0, |w| {
            cut_us.saturating_sub(w.commit_time_us) as f64 / 1000.0
        });
        Ok((lost, rpo_ms))
    }
}

/// Planned switchover of the primary to `to`: RPO 0, RTO measured.
pub async fn switchover(fleet: &Fleet, to: &str) -> anyhow::Result<SwitchoverReport> {
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
        let req = pb::SetRoleRequest {
            primary: to.to_owned(),
            epoch,
            ..Default::default()
        };
        if let Err(e) = fleet.set_role(to, req.clone()).await {
            // The call may have landed even though its answer did not: ask.
            let landed = fleet
                .status(to)
                .await
                .is_ok_and(|s| s.primary == to && s.epoch == epoch);
            if !landed {
                return Err(e);
            }
        }
        anyhow::Ok((caught_up, start.elapsed()))
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
                    "{from} could NOT be unfrozen ({u:#}): it takes no writes until a switchover or failover moves the role"
                ),
            };
            return Err(e.context(format!("switchover to {to} aborted; {undo}")));
        }
    };

    let others = fleet.others(&[to]);
    let req = pb::SetRoleRequest {
        primary: to.to_owned(),
        epoch,
        ..Default::default()
    };
    let not_updated = fleet.tell(&others, &req).await;

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

/// Unplanned failover to `to`: the primary is cut off and treated as lost; `to` is promoted with
/// what it has, and the acknowledged writes it never got are reported.
pub async fn failover(fleet: &Fleet, to: &str) -> anyhow::Result<FailoverReport> {
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
    let c = fleet.client(to)?;
    let req = pb::PartitionRequest {
        region: from.clone(),
        peer: String::new(),
        local_only: false,
    };
    fleet
        .call("partition", to, c.admin().partition(c.request(req)))
        .await?;
    // Once the target's stream from the old primary is down, its position there is final.
    let link = fleet
        .await_link(to, &from, "did not stop pulling", |l| {
            !l.connected && l.setting.as_ref().is_some_and(|s| s.partitioned)
        })
        .await?;
    let fenced_after_seq = link.applied_seq;

    let promote = pb::SetRoleRequest {
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
    let resync = pb::SetRoleRequest {
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

/// A region cut off by a failover (or any secondary) comes back: heal its links, make it a
/// secondary of the current primary with a resync. Its divergent writes are set aside.
pub async fn rejoin(fleet: &Fleet, region: &str) -> anyhow::Result<RejoinReport> {
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
    let req = pb::SetRoleRequest {
        primary: primary.clone(),
        epoch: current.epoch,
        fences: current.fences.clone(),
        resync: true,
    };
    fleet.set_role(region, req).await?;
    let p = fleet.client(&primary)?;
    let heal = pb::HealRequest {
        region: region.to_owned(),
        peer: String::new(),
        local_only: false,
    };
    let table = fleet
        .call("heal", &primary, p.admin().heal(p.request(heal.clone())))
        .await?;
    if table.unreachable.iter().any(|r| r == region) {
        let c = fleet.client(region)?;
        let heal = pb::HealRequest {
            local_only: true,
            ..heal
        };
        fleet
            .call("heal", region, c.admin().heal(c.request(heal)))
            .await?;
    }
    let c = fleet.client(region)?;
    let divergent = fleet
        .call(
            "divergent",
            region,
            c.admin().divergent(c.request(pb::DivergentRequest {})),
        )
        .await?;
    let divergent_writes: Vec<LostWrite> = divergent.writes.iter().map(LostWrite::from).collect();
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

/// Every acknowledged write that Aurora Global failovers set aside, by write id, with its kind:
/// read from each node's fences and its own divergent list (the writes of its log that a fence
/// cuts off). For the checker, which then accounts for them instead of calling them missing.
/// Nodes that cannot be asked are skipped (their writes then count as unaccounted).
pub async fn set_aside(
    nodes: &[RegionClient],
) -> std::collections::HashMap<String, crate::checker::SetAside> {
    use crate::checker::SetAside;
    let mut out = std::collections::HashMap::new();
    for c in nodes {
        let Ok(status) = c.admin().status(c.request(pb::StatusRequest {})).await else {
            continue;
        };
        let status = status.into_inner();
        let cut_at = status
            .fences
            .iter()
            .filter(|f| f.region == status.region)
            .map(|f| (f.after_seq, f.epoch, f.cut_at_us))
            .collect::<Vec<_>>();
        if cut_at.is_empty() {
            continue;
        }
        let Ok(divergent) = c
            .admin()
            .divergent(c.request(pb::DivergentRequest {}))
            .await
        else {
            continue;
        };
        for w in divergent.into_inner().writes {
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
