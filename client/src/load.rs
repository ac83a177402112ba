//! The load generator: simulated clients in chosen regions drive a running cluster through
//! real gRPC, then wait for quiescence and collect what the checker and reports need.
//!
//! **Open loop** (`rate > 0`): every worker follows its own arrival schedule (Poisson by
//! default; a superposition of Poisson streams is Poisson at the summed rate). Latency is
//! measured from each request's *intended* start, so a stalled server shows up in the
//! percentiles instead of silently slowing the client down (coordinated omission corrected, as
//! wrk2 does). **Closed loop** (`rate == 0`): each worker sends back to back and latency is
//! measured from the actual send.
//!
//! Workers keep their own histograms and write records (no shared locks on the hot path apart
//! from a sharded "latest acknowledged version" map used to measure read staleness).

use std::{
    collections::{BTreeMap, HashMap},
    io::{IsTerminal, Write as _},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use meridian_core::{clock::now_us, config::ClusterConfig, replica::Mode};
use meridian_proto::v1 as pb;
use tonic::Code;

use crate::{
    checker::CheckReport,
    client::{RegionClient, Session},
    history::{FinalItem, FinalStates, LossEvent, Ver, WriteRec, WriteStatus, ctx_from_pb},
    model::{ModelInput, predict},
    rng::Rng,
    workload::{OpKind, Workload},
};

/// How requests are spaced in open-loop mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Exponential gaps (what the conflict model assumes).
    Poisson,
    /// Constant gaps.
    Uniform,
}

/// Aurora Global mode: where clients outside the primary region send writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuroraWrites {
    /// To the primary's node, paying the round trip.
    Primary,
    /// To their own region's node, which forwards them.
    Forward,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The cluster (addresses, regions).
    pub cluster: ClusterConfig,
    /// Regions that send load.
    pub regions: Vec<String>,
    /// How long to send.
    pub duration: Duration,
    /// Target ops/s over all regions; 0 for closed loop.
    pub rate: f64,
    /// Workers per region (open loop: most requests in flight per region).
    pub concurrency: usize,
    /// Keys, mix, values, seed.
    pub workload: Workload,
    /// Open-loop spacing.
    pub arrivals: Arrivals,
    /// Aurora Global: where writes from secondaries go.
    pub aurora_writes: AuroraWrites,
    /// Aurora Global consistency for forwarded writes and reads.
    pub consistency: Option<String>,
    /// Visibility probes: one probe write per region per interval (None: off).
    pub probe_interval: Option<Duration>,
    /// Deadline of one request.
    pub timeout: Duration,
    /// How long to wait for the cluster to quiesce after the load.
    pub converge_timeout: Duration,
    /// Print a live progress line.
    pub progress: bool,
    /// Admin token for the nodes.
    pub admin_token: Option<String>,
}

/// What a run measured.
#[derive(Debug)]
pub struct LoadResult {
    /// The configuration.
    pub config: LoadConfig,
    /// Mode of the cluster at the start.
    pub mode: Mode,
    /// Aurora Global primary at the start.
    pub primary: Option<String>,
    /// Time spent sending, s.
    pub elapsed_s: f64,
    /// Completed requests (including errors).
    pub ops: u64,
    /// Latency per (client region, operation), µs.
    pub latency: BTreeMap<(String, OpKind), Histogram<u64>>,
    /// Requests completed per client region.
    pub ops_by_region: BTreeMap<String, u64>,
    /// Errors by gRPC code name.
    pub errors: BTreeMap<String, u64>,
    /// Conditional writes / increments refused by their condition (expected outcomes).
    pub condition_failed: u64,
    /// Every write sent.
    pub writes: Vec<WriteRec>,
    /// The checker's verdict.
    pub checker: CheckReport,
    /// Node status of every region at the end.
    pub nodes: Vec<pb::NodeStatus>,
    /// Conflicts the nodes counted during the run (sum over regions).
    pub node_conflicts: u64,
    /// Lost writes the nodes counted during the run (sum over regions).
    pub node_lost: u64,
    /// Visibility lag per "from>to", µs.
    pub visibility: BTreeMap<String, Histogram<u64>>,
    /// Reads done / reads that returned a version older than one acknowledged before they started.
    pub reads: u64,
    /// Stale reads.
    pub stale_reads: u64,
    /// How stale, µs (age of the newer acknowledged write when the stale read started).
    pub staleness: Histogram<u64>,
    /// Time from the end of the load until every region had applied everything, ms.
    pub converge_ms: Option<u64>,
    /// Predicted conflict and lost-write rates.
    pub predicted_conflict_rate: f64,
    /// See above.
    pub predicted_lost_rate: f64,
    /// Increments acknowledged minus what the counters hold at the end (lost updates).
    pub lost_increments: i64,
    /// Configured one-way latency per "from>to", ms (the model's input).
    pub link_latency_ms: BTreeMap<String, f64>,
}

/// A µs histogram (1 µs .. 1 h, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

fn record(h: &mut Histogram<u64>, us: u64) {
    let _ = h.record(us.clamp(1, 3_600_000_000));
}

/// Sharded latest-acknowledged-version map for read staleness.
struct Latest {
    shards: Vec<Mutex<HashMap<String, (Ver, u64)>>>,
}

impl Latest {
    fn new() -> Self {
        Self {
            shards: (0..64).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
    fn shard(&self, key: &str) -> &Mutex<HashMap<String, (Ver, u64)>> {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        &self.shards[(h % 64) as usize]
    }
    fn acked(&self, key: &str, v: Ver, at_us: u64) {
        let mut m = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        let e = m.entry(key.to_owned()).or_insert((v.clone(), at_us));
        if v > e.0 {
            *e = (v, at_us);
        }
    }
    /// Age of a newer acknowledged write than `seen`, acknowledged before `read_start_us`.
    fn staleness(&self, key: &str, seen: &Ver, read_start_us: u64) -> Option<u64> {
        let m = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        m.get(key)
            .filter(|(v, at)| v > seen && *at < read_start_us)
            .map(|(_, at)| read_start_us - at)
    }
}

/// Shared counters for the progress line.
#[derive(Default)]
struct Progress {
    ops: AtomicU64,
    errors: AtomicU64,
}

/// What one worker hands back.
struct WorkerOut {
    region: String,
    latency: HashMap<OpKind, Histogram<u64>>,
    writes: Vec<WriteRec>,
    errors: HashMap<String, u64>,
    condition_failed: u64,
    ops: u64,
    reads: u64,
    stale: u64,
    staleness: Histogram<u64>,
    increments: i64,
}

/// Clients of one sending region.
#[derive(Clone)]
struct RegionClients {
    region: String,
    local: RegionClient,
    writer: RegionClient,
    /// The region `writer` talks to (the primary, when clients write to it).
    writer_region: String,
    /// Aurora Global, clients writing to the primary: how to follow the writer when it moves.
    follow: Option<Arc<Follow>>,
}

/// Aurora's global writer endpoint keeps its name through switchover and failover; these
/// clients keep writing to the writer the same way: a write refused because the region is no
/// longer the primary goes again to the primary the refusal names, and one refused because a
/// switchover is draining the writer waits and goes again (until the request's timeout). The
/// switchover then shows as a short unavailability (latency), not as a flood of errors.
struct Follow {
    /// gRPC address of every region.
    addrs: HashMap<String, std::net::SocketAddr>,
    /// The session of the clients.
    session: Session,
}

impl Follow {
    /// A client for `region`'s node, with the clients' session.
    fn client(&self, region: &str) -> Option<RegionClient> {
        RegionClient::new(*self.addrs.get(region)?, &self.session).ok()
    }

    /// What to do after `status`: `Some(Some(region))` go to that primary, `Some(None)` wait
    /// and retry here, `None` give up.
    fn after(&self, status: &tonic::Status, writer_region: &str) -> Option<Option<String>> {
        match status.code() {
            Code::FailedPrecondition => {
                let primary = status
                    .message()
                    .split_once("the primary is ")?
                    .1
                    .split([' ', ')', ';', ','])
                    .next()?;
                (primary != writer_region && self.addrs.contains_key(primary))
                    .then(|| Some(primary.to_owned()))
            }
            Code::Unavailable if status.message().contains("writes are paused") => Some(None),
            _ => None,
        }
    }
}

/// How long a following client waits before it tries a paused writer again.
const FOLLOW_RETRY: Duration = Duration::from_millis(2);

/// Is a failed write's outcome unknown (it may have been committed)?
fn outcome_unknown(code: Code) -> bool {
    matches!(
        code,
        Code::DeadlineExceeded
            | Code::Unavailable
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal
    )
}

/// Connect to every region of the cluster; the status of each.
pub async fn cluster_status(
    cluster: &ClusterConfig,
    token: Option<&str>,
) -> anyhow::Result<Vec<(RegionClient, pb::NodeStatus)>> {
    let session = Session {
        admin_token: token.map(str::to_owned),
        ..Session::default()
    };
    let mut out = Vec::new();
    for r in &cluster.regions {
        let c = RegionClient::new(r.listen, &session)?;
        let s = c
            .admin()
            .status(pb::StatusRequest {})
            .await
            .with_context(|| {
                format!(
                    "cannot reach the node of {} at {} — is the cluster running?",
                    r.name, r.listen
                )
            })?
            .into_inner();
        out.push((c, s));
    }
    Ok(out)
}

/// Run the load, wait for quiescence, check, and gather everything.
pub async fn run(cfg: LoadConfig) -> anyhow::Result<LoadResult> {
    let cluster = &cfg.cluster;
    for r in &cfg.regions {
        if cluster.region(r).is_none() {
            bail!(
                "--regions: {r:?} is not a region of the cluster ({})",
                cluster.names()
            );
        }
    }
    if cfg.regions.is_empty() {
        bail!("no regions send load");
    }
    if cfg.concurrency == 0 || cfg.concurrency > 10_000 {
        bail!("--concurrency must be between 1 and 10000");
    }
    if !(cfg.rate >= 0.0 && cfg.rate.is_finite()) {
        bail!("--rate must be a non-negative number (0: closed loop)");
    }
    let start_status = cluster_status(cluster, cfg.admin_token.as_deref()).await?;
    let mode = if start_status[0].1.mode == pb::Mode::AuroraGlobal as i32 {
        Mode::AuroraGlobal
    } else {
        Mode::GlobalTables
    };
    let primary = (mode == Mode::AuroraGlobal).then(|| start_status[0].1.primary.clone());
    let base_conflicts: u64 = start_status.iter().map(|(_, s)| s.conflicts).sum();
    let base_lost: u64 = start_status.iter().map(|(_, s)| s.lost_writes).sum();
    let links = start_status[0]
        .0
        .admin()
        .links(pb::LinksRequest {})
        .await?
        .into_inner();
    let link_latency_ms: BTreeMap<String, f64> = links
        .links
        .iter()
        .map(|l| (format!("{}>{}", l.from, l.to), l.latency_ms))
        .collect();

    let clients: Vec<RegionClients> = cfg
        .regions
        .iter()
        .map(|region| -> anyhow::Result<RegionClients> {
            let rc = cluster.region(region).expect("checked");
            let base = Session {
                client_region: Some(region.clone()),
                consistency: cfg.consistency.clone(),
                forward: false,
                admin_token: None,
            };
            let local = RegionClient::new(rc.listen, &base)?;
            let writer = match (&primary, cfg.aurora_writes) {
                (Some(p), AuroraWrites::Primary) if p != region => RegionClient::new(
                    cluster.region(p).context("primary is a region")?.listen,
                    &base,
                )?,
                (Some(p), AuroraWrites::Forward) if p != region => RegionClient::new(
                    rc.listen,
                    &Session {
                        forward: true,
                        ..base.clone()
                    },
                )?,
                _ => local.clone(),
            };
            let follow =
                (primary.is_some() && cfg.aurora_writes == AuroraWrites::Primary).then(|| {
                    Arc::new(Follow {
                        addrs: cluster
                            .regions
                            .iter()
                            .map(|r| (r.name.clone(), r.listen))
                            .collect(),
                        session: base.clone(),
                    })
                });
            let writer_region = match (&primary, cfg.aurora_writes) {
                (Some(p), AuroraWrites::Primary) => p.clone(),
                _ => region.clone(),
            };
            Ok(RegionClients {
                region: region.clone(),
                local,
                writer,
                writer_region,
                follow,
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let latest = Arc::new(Latest::new());
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let workload = Arc::new(cfg.workload.clone());
    let begin = Instant::now();
    let deadline = begin + cfg.duration;
    let per_worker_rate = cfg.rate / (cfg.regions.len() * cfg.concurrency) as f64;

    let mut workers = tokio::task::JoinSet::new();
    for (ri, rc) in clients.iter().enumerate() {
        for wi in 0..cfg.concurrency {
            let rc = rc.clone();
            let (latest, progress, workload) = (latest.clone(), progress.clone(), workload.clone());
            let stream = (ri * cfg.concurrency + wi) as u64;
            let (timeout, arrivals) = (cfg.timeout, cfg.arrivals);
            workers.spawn(async move {
                worker(
                    rc,
                    stream,
                    workload,
                    per_worker_rate,
                    arrivals,
                    begin,
                    deadline,
                    timeout,
                    latest,
                    progress,
                )
                .await
            });
        }
    }

    let probes = cfg.probe_interval.map(|interval| {
        let clients = clients.clone();
        let all: Vec<(String, RegionClient)> = start_status
            .iter()
            .map(|(c, s)| (s.region.clone(), c.clone()))
            .collect();
        let prefix = cfg.workload.prefix.clone();
        let done = done.clone();
        let writable: Vec<String> = match &primary {
            Some(p) => vec![p.clone()],
            None => clients.iter().map(|c| c.region.clone()).collect(),
        };
        tokio::spawn(probe_loop(all, writable, prefix, interval, deadline, done))
    });

    let ticker = cfg.progress.then(|| {
        let progress = progress.clone();
        let done = done.clone();
        let nodes: Vec<RegionClient> = start_status.iter().map(|(c, _)| c.clone()).collect();
        let total = cfg.duration;
        tokio::spawn(progress_loop(
            progress,
            done,
            nodes,
            base_conflicts,
            begin,
            total,
        ))
    });

    let mut outs = Vec::new();
    while let Some(r) = workers.join_next().await {
        outs.push(r.context("a load worker failed")?);
    }
    let elapsed_s = begin.elapsed().as_secs_f64().max(1e-9);
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.await;
    }
    let visibility = match probes {
        Some(p) => p.await.unwrap_or_default(),
        None => BTreeMap::new(),
    };

    // Merge the workers' results.
    let mut latency: BTreeMap<(String, OpKind), Histogram<u64>> = BTreeMap::new();
    let mut ops_by_region: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut writes, mut condition_failed, mut reads, mut stale, mut staleness, mut increments) =
        (Vec::new(), 0, 0, 0, histogram(), 0i64);
    for o in outs {
        for (k, h) in o.latency {
            latency
                .entry((o.region.clone(), k))
                .or_insert_with(histogram)
                .add(&h)
                .expect("same bounds");
        }
        *ops_by_region.entry(o.region.clone()).or_default() += o.ops;
        for (k, n) in o.errors {
            *errors.entry(k).or_default() += n;
        }
        writes.extend(o.writes);
        condition_failed += o.condition_failed;
        reads += o.reads;
        stale += o.stale;
        staleness.add(&o.staleness).expect("same bounds");
        increments += o.increments;
    }
    let ops = ops_by_region.values().sum();

    // Quiescence, final state, events, check.
    let load_end = Instant::now();
    let converge_ms = wait_quiescent(&start_status, cfg.converge_timeout)
        .await
        .then(|| load_end.elapsed().as_millis() as u64);
    let mut finals: FinalStates = BTreeMap::new();
    let mut counter_sums = Vec::new();
    let mut events = Vec::new();
    let mut feed_complete = true;
    let mut nodes = Vec::new();
    for (c, s) in &start_status {
        let (state, counters) = dump(c, &cfg.workload.counter_prefix()).await?;
        finals.insert(s.region.clone(), state);
        counter_sums.push(counters);
        // From where the feed stood when the run started: events that fell out of a long-lived
        // node's feed before this run are not this run's concern.
        let (evs, complete) = events_since(c, s.lost_writes, &s.incarnation).await?;
        events.extend(
            evs.into_iter()
                .filter(|e| e.key.starts_with(&cfg.workload.prefix)),
        );
        feed_complete &= complete;
        nodes.push(c.admin().status(pb::StatusRequest {}).await?.into_inner());
    }
    // Only this run's keys take part.
    for state in finals.values_mut() {
        state.retain(|k, _| k.starts_with(&cfg.workload.prefix) && !k.contains("probe-"));
    }
    let heads: Vec<crate::resolve::RunStart> = start_status
        .iter()
        .map(|(c, s)| crate::resolve::RunStart {
            client: c.clone(),
            log_head: s.log_head,
            incarnation: s.incarnation.clone(),
        })
        .collect();
    let resolution = crate::resolve::resolve_unknown(&heads, &mut writes).await;
    let set_aside = if mode == Mode::AuroraGlobal {
        let clients: Vec<RegionClient> = start_status.iter().map(|(c, _)| c.clone()).collect();
        crate::aurora::set_aside(&clients).await
    } else {
        HashMap::new()
    };
    let mut checker =
        crate::checker::check_with_set_aside(&writes, &finals, &events, feed_complete, &set_aside);
    checker.writes_resolved_applied = resolution.applied;
    checker.writes_resolved_not_applied = resolution.not_applied;
    let lost_increments = increments - counter_sums.first().copied().unwrap_or(0);

    // The model, fed with the measured write rates by committing region and the configured lags.
    let names: Vec<String> = cluster.regions.iter().map(|r| r.name.clone()).collect();
    let lag_s: Vec<Vec<f64>> = names
        .iter()
        .map(|a| {
            names
                .iter()
                .map(|b| {
                    if a == b {
                        0.0
                    } else {
                        link_latency_ms
                            .get(&format!("{a}>{b}"))
                            .copied()
                            .unwrap_or(0.0)
                            / 1000.0
                    }
                })
                .collect()
        })
        .collect();
    let (mut predicted_conflict_rate, mut predicted_lost_rate) = (0.0, 0.0);
    let acked: Vec<&WriteRec> = writes
        .iter()
        .filter(|w| w.status == WriteStatus::Acked)
        .collect();
    if !acked.is_empty() {
        for counters in [false, true] {
            let subset: Vec<&&WriteRec> = acked
                .iter()
                .filter(|w| (w.op == OpKind::Incr) == counters)
                .collect();
            if subset.is_empty() {
                continue;
            }
            let write_rate: Vec<f64> = names
                .iter()
                .map(|n| subset.iter().filter(|w| w.origin() == n).count() as f64 / elapsed_s)
                .collect();
            let key_probability = (0..cfg.workload.keys)
                .map(|k| cfg.workload.key_probability(k))
                .collect();
            let (c, l) = predict(&ModelInput {
                write_rate,
                lag_s: lag_s.clone(),
                key_probability,
            });
            let share = subset.len() as f64 / acked.len() as f64;
            predicted_conflict_rate += share * c;
            predicted_lost_rate += share * l;
        }
    }
    let node_conflicts = nodes
        .iter()
        .map(|s| s.conflicts)
        .sum::<u64>()
        .saturating_sub(base_conflicts);
    let node_lost = nodes
        .iter()
        .map(|s| s.lost_writes)
        .sum::<u64>()
        .saturating_sub(base_lost);

    Ok(LoadResult {
        config: cfg,
        mode,
        primary,
        elapsed_s,
        ops,
        latency,
        ops_by_region,
        errors,
        condition_failed,
        writes,
        checker,
        nodes,
        node_conflicts,
        node_lost,
        visibility,
        reads,
        stale_reads: stale,
        staleness,
        converge_ms,
        predicted_conflict_rate,
        predicted_lost_rate,
        lost_increments,
        link_latency_ms,
    })
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    rc: RegionClients,
    stream: u64,
    workload: Arc<Workload>,
    rate: f64,
    arrivals: Arrivals,
    begin: Instant,
    deadline: Instant,
    timeout: Duration,
    latest: Arc<Latest>,
    progress: Arc<Progress>,
) -> WorkerOut {
    let mut rng = Rng::stream(workload.seed, stream);
    let mut out = WorkerOut {
        region: rc.region.clone(),
        latency: HashMap::new(),
        writes: Vec::new(),
        errors: HashMap::new(),
        condition_failed: 0,
        ops: 0,
        reads: 0,
        stale: 0,
        staleness: histogram(),
        increments: 0,
    };
    let (mut kv_local, mut kv_writer) = (rc.local.kv(), rc.writer.kv());
    let mut writer = rc.writer.clone();
    let mut writer_region = rc.writer_region.clone();
    let open_loop = rate > 0.0;
    // Stagger the first arrival so workers do not start in lockstep. Poisson: the first gap is
    // exponential too (a uniform one over one mean gap would add half an arrival per worker).
    let first_gap = match (open_loop, arrivals) {
        (false, _) => 0.0,
        (true, Arrivals::Poisson) => rng.exponential(1.0 / rate),
        (true, Arrivals::Uniform) => rng.f64() / rate,
    };
    let mut intended = begin + Duration::from_secs_f64(first_gap);
    let mut n = 0u64;
    loop {
        if open_loop {
            if intended >= deadline {
                break;
            }
            tokio::time::sleep_until(intended.into()).await;
        } else {
            intended = Instant::now();
            if intended >= deadline {
                break;
            }
        }
        let op = workload.next_op(&mut rng);
        n += 1;
        let start_us = now_us().saturating_sub(intended.elapsed().as_micros() as u64);
        let token = format!("w/{}/{stream}/{n}", rc.region);
        let (key, kind) = if op.kind == OpKind::Incr {
            (workload.counter(op.rank), op.kind)
        } else {
            (op.key.clone(), op.kind)
        };
        // The client names each write, so that one whose reply is lost can be looked up in
        // the origin's log after the run (resolving the unknown outcome). Reads need no id.
        let write_id = if kind.is_write() {
            uuid::Uuid::new_v4().to_string()
        } else {
            String::new()
        };
        let give_up = Instant::now() + timeout;
        let result: Result<Option<pb::WriteReply>, tonic::Status> = loop {
            let result: Result<Option<pb::WriteReply>, tonic::Status> = match kind {
                OpKind::Get => {
                    let read_start = now_us();
                    let mut req = rc.local.request(pb::GetRequest { key: key.clone() });
                    req.set_timeout(timeout);
                    match kv_local.get(req).await {
                        Ok(r) => {
                            let r = r.into_inner();
                            out.reads += 1;
                            let seen = Ver::from_pb(r.version.as_ref());
                            if let Some(age) = latest.staleness(&key, &seen, read_start) {
                                out.stale += 1;
                                record(&mut out.staleness, age);
                            }
                            Ok(None)
                        }
                        Err(e) => Err(e),
                    }
                }
                OpKind::Put | OpKind::CondPut => {
                    let condition = (kind == OpKind::CondPut).then_some(pb::Condition {
                        kind: Some(pb::condition::Kind::IfAbsent(true)),
                    });
                    let mut req = writer.request(pb::PutRequest {
                        key: key.clone(),
                        value: workload.value(&token),
                        condition,
                        write_id: write_id.clone(),
                    });
                    req.set_timeout(timeout);
                    kv_writer.put(req).await.map(|r| Some(r.into_inner()))
                }
                OpKind::Delete => {
                    let mut req = writer.request(pb::DeleteRequest {
                        key: key.clone(),
                        condition: None,
                        write_id: write_id.clone(),
                    });
                    req.set_timeout(timeout);
                    kv_writer.delete(req).await.map(|r| Some(r.into_inner()))
                }
                OpKind::Incr => {
                    let mut req = writer.request(pb::IncrementRequest {
                        key: key.clone(),
                        delta: 1,
                        write_id: write_id.clone(),
                    });
                    req.set_timeout(timeout);
                    kv_writer.increment(req).await.map(|r| Some(r.into_inner()))
                }
            };
            // Follow the writer (Aurora Global): the refused write was not committed.
            let next = match (&result, &rc.follow) {
                (Err(s), Some(f)) if kind.is_write() && Instant::now() < give_up => {
                    f.after(s, &writer_region)
                }
                _ => None,
            };
            match next {
                Some(Some(primary)) => match rc.follow.as_ref().and_then(|f| f.client(&primary)) {
                    Some(c) => {
                        writer = c;
                        kv_writer = writer.kv();
                        writer_region = primary;
                    }
                    None => break result,
                },
                Some(None) => tokio::time::sleep(FOLLOW_RETRY).await,
                None => break result,
            }
        };
        let latency_us = intended.elapsed().as_micros() as u64;
        record(
            out.latency.entry(kind).or_insert_with(histogram),
            latency_us,
        );
        out.ops += 1;
        progress.ops.fetch_add(1, Ordering::Relaxed);
        let mut rec = |status: WriteStatus, reply: Option<&pb::WriteReply>| {
            if !kind.is_write() {
                return;
            }
            out.writes.push(WriteRec {
                key: key.clone(),
                op: kind,
                client_region: rc.region.clone(),
                status,
                write_id: reply.map_or_else(|| write_id.clone(), |r| r.write_id.clone()),
                version: reply.map(|r| Ver::from_pb(r.version.as_ref())),
                context: ctx_from_pb(reply.and_then(|r| r.context.as_ref())),
                tombstone: kind == OpKind::Delete,
                start_us,
                ack_us: if reply.is_some() { now_us() } else { 0 },
            });
        };
        match result {
            Ok(Some(reply)) => {
                rec(WriteStatus::Acked, Some(&reply));
                latest.acked(&key, Ver::from_pb(reply.version.as_ref()), now_us());
                if kind == OpKind::Incr {
                    out.increments += 1;
                }
            }
            Ok(None) => {}
            Err(status)
                if status.code() == Code::FailedPrecondition
                    && matches!(kind, OpKind::CondPut | OpKind::Incr)
                    && status.message().starts_with("condition failed") =>
            {
                out.condition_failed += 1;
                rec(WriteStatus::Failed, None);
            }
            Err(status) => {
                *out.errors
                    .entry(format!("{:?}", status.code()))
                    .or_default() += 1;
                progress.errors.fetch_add(1, Ordering::Relaxed);
                rec(
                    if outcome_unknown(status.code()) {
                        WriteStatus::Unknown
                    } else {
                        WriteStatus::Failed
                    },
                    None,
                );
            }
        }
        if open_loop {
            let gap = match arrivals {
                Arrivals::Poisson => rng.exponential(1.0 / rate),
                Arrivals::Uniform => 1.0 / rate,
            };
            intended += Duration::from_secs_f64(gap);
        }
    }
    out
}

/// Visibility probes: a probe write in each writable region per interval, polled for in every
/// other region until it is readable there. Returns the lag per "from>to", µs.
async fn probe_loop(
    all: Vec<(String, RegionClient)>,
    writable: Vec<String>,
    prefix: String,
    interval: Duration,
    deadline: Instant,
    done: Arc<AtomicBool>,
) -> BTreeMap<String, Histogram<u64>> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut n = 0u64;
    while Instant::now() < deadline && !done.load(Ordering::Relaxed) {
        let round = Instant::now();
        for src in &writable {
            let Some((_, client)) = all.iter().find(|(r, _)| r == src) else {
                continue;
            };
            n += 1;
            let key = format!("{prefix}probe-{src}-{n}");
            let Ok(reply) = client
                .kv()
                .put(pb::PutRequest {
                    key: key.clone(),
                    value: b"probe".to_vec(),
                    ..Default::default()
                })
                .await
            else {
                continue;
            };
            let write_id = reply.into_inner().write_id;
            let acked = Instant::now();
            let polls = all.iter().filter(|(r, _)| r != src).map(|(r, c)| {
                let (key, write_id, c, pair) = (
                    key.clone(),
                    write_id.clone(),
                    c.clone(),
                    format!("{src}>{r}"),
                );
                async move {
                    let mut kv = c.kv();
                    while acked.elapsed() < Duration::from_secs(10) {
                        if let Ok(r) = kv.get(pb::GetRequest { key: key.clone() }).await
                            && r.get_ref().write_id == write_id
                        {
                            return Some((pair, acked.elapsed().as_micros() as u64));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    None
                }
            });
            for (pair, us) in futures::future::join_all(polls).await.into_iter().flatten() {
                record(out.entry(pair).or_insert_with(histogram), us);
            }
        }
        if let Some(rest) = interval.checked_sub(round.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    out
}

/// Print a live progress line every second until `done`.
async fn progress_loop(
    progress: Arc<Progress>,
    done: Arc<AtomicBool>,
    nodes: Vec<RegionClient>,
    base_conflicts: u64,
    begin: Instant,
    total: Duration,
) {
    let tty = std::io::stderr().is_terminal();
    let mut last_ops = 0;
    let mut last = Instant::now();
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(if tty { 1000 } else { 2000 })).await;
        let ops = progress.ops.load(Ordering::Relaxed);
        let rate = (ops - last_ops) as f64 / last.elapsed().as_secs_f64();
        (last_ops, last) = (ops, Instant::now());
        let mut conflicts = 0;
        for c in &nodes {
            if let Ok(s) = c.admin().status(pb::StatusRequest {}).await {
                conflicts += s.into_inner().conflicts;
            }
        }
        let line = format!(
            "[{:>5.1}s/{:.0}s] {ops} ops, {rate:.0} ops/s, {} errors, {} conflicts so far",
            begin.elapsed().as_secs_f64().min(total.as_secs_f64()),
            total.as_secs_f64(),
            progress.errors.load(Ordering::Relaxed),
            conflicts.saturating_sub(base_conflicts)
        );
        let mut err = std::io::stderr();
        if tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
    if tty {
        eprintln!();
    }
}

/// Wait until every region has applied every other region's whole log. True when it did.
/// Check a recorded history against a running cluster (`meridian check`): wait until the
/// regions are quiescent, read every region's final state and whole conflict feed, keep the
/// history's keys, and run the checker. `Err` when a node cannot be reached, or the cluster
/// does not settle within `converge_timeout`.
pub async fn check_history(
    cluster: &ClusterConfig,
    token: Option<&str>,
    writes: &[WriteRec],
    converge_timeout: Duration,
) -> anyhow::Result<CheckReport> {
    let status = cluster_status(cluster, token).await?;
    if !wait_quiescent(&status, converge_timeout).await {
        bail!(
            "the cluster did not settle within {converge_timeout:?}: some regions still have writes to apply (a partition?)"
        );
    }
    let keys: std::collections::HashSet<&str> = writes.iter().map(|w| w.key.as_str()).collect();
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
        crate::aurora::set_aside(&clients).await
    } else {
        HashMap::new()
    };
    Ok(crate::checker::check_with_set_aside(
        writes,
        &finals,
        &events,
        feed_complete,
        &set_aside,
    ))
}

/// Wait until every region has applied every other region's log (or `timeout` passes).
pub async fn wait_quiescent(nodes: &[(RegionClient, pb::NodeStatus)], timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let mut statuses = Vec::new();
        for (c, _) in nodes {
            match c.admin().status(pb::StatusRequest {}).await {
                Ok(s) => statuses.push(s.into_inner()),
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
) -> anyhow::Result<(HashMap<String, FinalItem>, i64)> {
    let mut stream = c.admin().dump(pb::DumpRequest {}).await?.into_inner();
    let mut state = HashMap::new();
    let mut sum = 0i64;
    while let Some(chunk) = stream.message().await? {
        for w in chunk.items {
            if w.key.starts_with(counter_prefix) && !w.tombstone {
                sum += std::str::from_utf8(&w.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .unwrap_or(0);
            }
            state.insert(
                w.key.clone(),
                FinalItem {
                    write_id: w.write_id,
                    version: Ver::from_pb(w.version.as_ref()),
                    tombstone: w.tombstone,
                },
            );
        }
    }
    Ok((state, sum))
}

/// Every loss event a node has after `after` (a position in its feed of `incarnation`; empty:
/// any), paging through the feed; and whether the feed still held all of them — false when
/// events fell out of the bounded feed or the node restarted without its state.
pub async fn events_since(
    c: &RegionClient,
    mut after: u64,
    incarnation: &str,
) -> anyhow::Result<(Vec<LossEvent>, bool)> {
    let mut out = Vec::new();
    let mut complete = true;
    let mut incarnation = incarnation.to_owned();
    loop {
        let r = c
            .admin()
            .conflicts(pb::ConflictsRequest {
                after,
                limit: 10_000,
                incarnation: incarnation.clone(),
            })
            .await?
            .into_inner();
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
