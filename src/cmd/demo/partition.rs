//! What a region partition does to a design, measured on its running cluster: one region is
//! cut off from every other, and for a few seconds a client in every region writes to its own
//! region's node (in Aurora Global through write forwarding) and reads there — strongly when
//! the cluster offers strong reads, and eventually. Then the partition heals, and the cut-off
//! region's writes are timed until one is acknowledged again (a strong region catches up first).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use meridian_client::{
    control::{Reach, RegionClient, Session, scenario::LocalCluster},
    load::wait_quiescent,
};
use meridian_core::Consistency;
use serde_json::{Value, json};

/// Deadline of one request of the probe.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for the partition to take effect, or for the cut-off region to write again.
const SETTLE: Duration = Duration::from_secs(30);

/// What one region's client saw while the partition held.
#[derive(Clone, Debug, Default)]
pub(super) struct RegionTally {
    /// The region.
    pub region: String,
    /// Writes sent / acknowledged, and refusals by gRPC code.
    pub writes: u64,
    pub acked: u64,
    pub refused: BTreeMap<String, u64>,
    /// Strong reads sent / served (none sent in a cluster without them).
    pub strong_reads: u64,
    pub strong_served: u64,
    /// Eventual (local) reads sent / served.
    pub eventual_reads: u64,
    pub eventual_served: u64,
}

/// A partition's effect on one design.
#[derive(Clone, Debug)]
pub(super) struct PartitionReport {
    /// The region cut off.
    pub cut: String,
    /// Per region, the cut-off one first.
    pub regions: Vec<RegionTally>,
    /// From the heal until the cut-off region's first acknowledged write, ms.
    pub back_ms: Option<f64>,
}

impl PartitionReport {
    /// The cut-off region's tally.
    pub fn cut_off(&self) -> Option<&RegionTally> {
        self.regions.iter().find(|t| t.region == self.cut)
    }

    /// The other regions' writes: (sent, acknowledged).
    pub fn others_writes(&self) -> (u64, u64) {
        self.regions
            .iter()
            .filter(|t| t.region != self.cut)
            .fold((0, 0), |(s, a), t| (s + t.writes, a + t.acked))
    }

    /// As JSON (for demo.json).
    pub fn to_json(&self) -> Value {
        let regions: Vec<Value> = self
            .regions
            .iter()
            .map(|t| {
                json!({
                    "region": t.region,
                    "writes": t.writes,
                    "acked": t.acked,
                    "refused": t.refused,
                    "strong_reads": t.strong_reads,
                    "strong_served": t.strong_served,
                    "eventual_reads": t.eventual_reads,
                    "eventual_served": t.eventual_served,
                })
            })
            .collect();
        json!({"cut": self.cut, "regions": regions, "writes_again_after_heal_ms": self.back_ms})
    }
}

/// Cut `cut` off for `hold`, with clients writing and reading in every region; heal; time
/// the cut-off region's return. `forward`: writes go through Aurora Global write forwarding.
pub(super) async fn probe(
    cluster: &LocalCluster,
    cut: &str,
    hold: Duration,
    forward: bool,
) -> anyhow::Result<PartitionReport> {
    let config = &cluster.cluster;
    let strong = config.multi_region_consistency == Consistency::Strong;
    let admin = cluster.clients()?;
    let (_, any) = admin
        .iter()
        .find(|(r, _)| r != cut)
        .context("a region besides the cut-off one")?;
    any.partition(cut, None, Reach::Cluster).await?;
    wait_partitioned(&admin, cut).await?;

    let clients: Vec<(String, RegionClient)> = config
        .regions
        .iter()
        .map(|r| {
            let session = Session {
                client_region: Some(r.name.clone()),
                forward,
                ..Session::default()
            };
            Ok((
                r.name.clone(),
                RegionClient::new(r.listen, &session)?.with_timeout(REQUEST_TIMEOUT),
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let until = Instant::now() + hold;
    let mut runs = tokio::task::JoinSet::new();
    for (region, c) in &clients {
        runs.spawn(drive(region.clone(), c.clone(), strong, until));
    }
    let mut regions = Vec::new();
    while let Some(t) = runs.join_next().await {
        regions.push(t.context("a partition probe client failed")?);
    }
    regions.sort_by(|a, b| (a.region != cut, &a.region).cmp(&(b.region != cut, &b.region)));

    any.heal(None, None, Reach::Cluster).await?;
    let healed = Instant::now();
    let (_, cut_client) = clients
        .iter()
        .find(|(r, _)| r == cut)
        .context("the cut-off region's client")?;
    let mut back_ms = None;
    let mut n = 0u64;
    while healed.elapsed() < SETTLE {
        n += 1;
        let key = format!("partition/back-{n}");
        if cut_client
            .put(&key, b"back".to_vec(), None, "")
            .await
            .is_ok()
        {
            back_ms = Some(healed.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut status = Vec::new();
    for (_, c) in &admin {
        status.push((c.clone(), c.status().await?));
    }
    wait_quiescent(&status, SETTLE).await;
    Ok(PartitionReport {
        cut: cut.to_owned(),
        regions,
        back_ms,
    })
}

/// Wait until every node's link table shows `cut`'s links partitioned.
async fn wait_partitioned(admin: &[(String, RegionClient)], cut: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let mut all = true;
        for (_, c) in admin {
            let t = c.links().await?;
            all &= t
                .links
                .iter()
                .filter(|l| l.from == cut || l.to == cut)
                .all(|l| l.partitioned);
        }
        if all {
            return Ok(());
        }
        if start.elapsed() > SETTLE {
            anyhow::bail!("the partition of {cut} did not take effect within {SETTLE:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One region's client until `until`: a write, then (strong clusters) a strong read and an
/// eventual read of the same key, again and again.
async fn drive(region: String, c: RegionClient, strong: bool, until: Instant) -> RegionTally {
    let mut t = RegionTally {
        region: region.clone(),
        ..RegionTally::default()
    };
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let key = format!("partition/{region}/{}", n % 20);
        t.writes += 1;
        match c.put(&key, format!("v{n}").into_bytes(), None, "").await {
            Ok(_) => t.acked += 1,
            Err(e) => {
                let code = match e {
                    meridian_client::Error::Rpc(s) => format!("{:?}", s.code()),
                    _ => "Unknown".into(),
                };
                *t.refused.entry(code).or_default() += 1;
            }
        }
        if strong {
            t.strong_reads += 1;
            t.strong_served += u64::from(c.get_with(&key, true).await.is_ok());
        }
        t.eventual_reads += 1;
        t.eventual_served += u64::from(c.get(&key).await.is_ok());
    }
    t
}
