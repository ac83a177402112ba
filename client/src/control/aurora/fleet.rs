//! The nodes of every region of a cluster, as the control plane sees them: single admin calls
//! with a deadline and errors that name the call and the region, the role the highest epoch
//! agrees on, and polling a link until it gets somewhere.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use meridian_proto::v1 as pb;

use super::reports::LostWrite;
use crate::{
    control::client::{RegionClient, Role, check_not_truncated},
    error::{Error, Result, bail},
};

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

/// The Aurora Global role the cluster agrees on: the view of the nodes with the highest epoch.
#[derive(Clone, Debug)]
pub(super) struct Current {
    /// The primary region.
    pub primary: String,
    /// The highest epoch.
    pub epoch: u64,
    /// Status of each region, or why it could not be had.
    statuses: Vec<(String, Result<pb::NodeStatus, String>)>,
    /// The fences those nodes hold (one per failover so far).
    pub fences: Vec<pb::Fence>,
}

impl Current {
    pub fn status(&self, region: &str) -> Result<&pb::NodeStatus> {
        match self.statuses.iter().find(|(r, _)| r == region) {
            None => bail!("{region:?} is not a region of the cluster"),
            Some((_, Err(e))) => bail!("cannot reach {region}: {e}"),
            Some((_, Ok(s))) => Ok(s),
        }
    }

    /// The status of `region`, which must be reachable and know the current role (a region
    /// cut off by a failover does not, and must rejoin before it can be promoted).
    pub fn up_to_date(&self, region: &str) -> Result<&pb::NodeStatus> {
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
pub(super) fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Wall-clock time, µs since the Unix epoch (the clock the nodes stamp commit times with: the
/// playground's regions share one machine).
pub(super) fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl Fleet {
    /// The nodes of a cluster, by region name.
    pub fn new(nodes: Vec<(String, RegionClient)>, opts: Options) -> Self {
        Self { nodes, opts }
    }

    pub(super) fn client(&self, region: &str) -> Result<&RegionClient> {
        match self.nodes.iter().find(|(r, _)| r == region) {
            Some((_, c)) => Ok(c),
            None => {
                let names: Vec<_> = self.nodes.iter().map(|(r, _)| r.as_str()).collect();
                bail!(
                    "{region:?} is not a region of the cluster ({})",
                    names.join(", ")
                )
            }
        }
    }

    /// One admin call at `region` with the call deadline; errors name the call and the region.
    pub(super) async fn call<'a, T, F>(
        &'a self,
        call: &'static str,
        region: &str,
        f: impl FnOnce(&'a RegionClient) -> F,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let c = self.client(region)?;
        match tokio::time::timeout(self.opts.call_timeout, f(c)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(Error::Rpc(status))) => Err(Error::Call {
                call,
                region: region.to_owned(),
                status,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Timeout {
                call,
                region: region.to_owned(),
                timeout: self.opts.call_timeout,
            }),
        }
    }

    pub(super) async fn status(&self, region: &str) -> Result<pb::NodeStatus> {
        self.call("status", region, |c| c.status()).await
    }

    pub(super) async fn freeze(&self, region: &str, frozen: bool) -> Result<pb::FreezeReply> {
        self.call("freeze", region, |c| c.freeze(frozen)).await
    }

    pub(super) async fn set_role(&self, region: &str, role: Role) -> Result<pb::NodeStatus> {
        self.call("set role", region, |c| c.set_role(role)).await
    }

    /// `region`'s own writes with seq in (`after`, `up_to`] (`up_to` 0: the head), each page
    /// a call of its own.
    async fn log(
        &self,
        region: &str,
        after_seq: u64,
        up_to_seq: u64,
    ) -> Result<Vec<pb::WriteRecord>> {
        // The node answers in pages (bounded in bytes); ask until a page comes back empty.
        let mut out: Vec<pb::WriteRecord> = Vec::new();
        let mut after = after_seq;
        loop {
            let page = self
                .call("log", region, |c| c.log_page(after, up_to_seq))
                .await?;
            check_not_truncated(region, after, page.base_seq)?;
            match page.writes.last() {
                Some(last) if last.seq > after => after = last.seq,
                _ => return Ok(out),
            }
            out.extend(page.writes);
        }
    }

    /// Every region's status, and the role the highest epoch agrees on.
    pub(super) async fn current(&self) -> Result<Current> {
        let statuses: Vec<_> =
            join_all(self.nodes.iter().map(|(r, _)| async move {
                (r.clone(), self.status(r).await.map_err(|e| e.chain()))
            }))
            .await;
        let leader = statuses
            .iter()
            .filter_map(|(_, s)| s.as_ref().ok())
            .max_by_key(|s| s.epoch)
            .ok_or_else(|| Error::Failed("no region of the cluster answers".into()))?;
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
    pub(super) async fn await_link(
        &self,
        region: &str,
        origin: &str,
        what: &str,
        done: impl Fn(&pb::LinkStatus) -> bool,
    ) -> Result<pb::LinkStatus> {
        let deadline = Instant::now() + self.opts.catch_up_timeout;
        loop {
            let s = self.status(region).await?;
            let Some(link) = s.links.into_iter().find(|l| l.origin == origin) else {
                bail!("{region} has no link from {origin}");
            };
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
    pub(super) async fn tell(&self, regions: &[String], role: &Role) -> Vec<String> {
        let results = join_all(
            regions
                .iter()
                .map(|r| async move { (r.clone(), self.set_role(r, role.clone()).await) }),
        )
        .await;
        results
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(r, _)| r)
            .collect()
    }

    pub(super) fn others(&self, except: &[&str]) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(r, _)| r.clone())
            .filter(|r| !except.contains(&r.as_str()))
            .collect()
    }

    /// The writes of `old`'s log after `after`: the loss of a target that applied up to
    /// `after`, if `old` was cut off at `cut_us` (wall clock, µs). Returns the writes and the
    /// RPO in time: how old the oldest of them was at the cut, ms (0 when none is lost).
    pub(super) async fn loss(
        &self,
        old: &str,
        after: u64,
        cut_us: u64,
    ) -> Result<(Vec<LostWrite>, f64)> {
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
