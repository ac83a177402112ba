//! A load run as named steps: check the configuration, read where the cluster stands
//! ([`Baseline`]; in a strong cluster the witness is no target), start the clients and send
//! ([`send`]), merge what the workers saw ([`Merged`]), settle, collect and check
//! ([`settle_and_check`]), and set the measured rates against the model ([`predict_rates`],
//! [`predict_conflict_errors`]).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use hdrhistogram::Histogram;
use meridian_core::replica::Mode;
use meridian_proto::v1 as pb;

use super::{
    clients::RegionClients,
    collect::{cluster_status, events_since, final_items, wait_quiescent},
    config::LoadConfig,
    probe::probe_loop,
    progress::{Progress, progress_loop},
    resolve::{RunStart, Seen, resolve_unknown},
    result::{LoadResult, histogram},
    staleness::Latest,
    strong::{StrongResult, StrongSetup, StrongTally},
    strong_steps::{predict_conflict_errors, seen_by_reads, seen_in_store, skip_witness},
    worker::{Schedule, Shared, WorkerOut, worker},
};
use crate::{
    check::{
        checker::{CheckReport, check_with_set_aside},
        history::{FinalStates, ReadRec, WriteRec, WriteStatus},
        model::{ModelInput, predict},
        strong::check_strong,
    },
    control::{aurora::set_aside, client::RegionClient},
    error::{Result, ResultExt},
    workload::OpKind,
};

/// Run the load, wait for quiescence, check, and gather everything.
pub async fn run(mut cfg: LoadConfig) -> Result<LoadResult> {
    cfg.validate()?;
    let base = Baseline::read(&cfg).await?;
    let skipped = skip_witness(&mut cfg, base.strong.as_ref())?;
    let clients = RegionClients::for_run(&cfg, base.primary.as_deref())?;
    let sent = send(&cfg, &base, &clients).await?;
    let merged = Merged::from(sent.outs);
    let mut writes = merged.writes;
    let settled = settle_and_check(&cfg, &base, &mut writes, &merged.strong_reads).await?;
    let (predicted_conflict_rate, predicted_lost_rate) = if base.strong.is_some() {
        // No write is concurrent with another in strong mode: the LWW model does not apply.
        (0.0, 0.0)
    } else {
        predict_rates(&cfg, &base.link_latency_ms, &writes, sent.elapsed_s)
    };
    let strong = base.strong.clone().map(|setup| {
        let predicted_conflict_error_rate =
            predict_conflict_errors(&cfg, &setup, &merged.strong, sent.elapsed_s);
        StrongResult {
            setup,
            skipped,
            by_region: merged.strong,
            acked_write_latency: merged.acked_write_latency,
            reads: merged.strong_reads,
            predicted_conflict_error_rate,
        }
    });
    let node_conflicts = settled
        .nodes
        .iter()
        .map(|s| s.conflicts)
        .sum::<u64>()
        .saturating_sub(base.conflicts);
    let node_lost = settled
        .nodes
        .iter()
        .map(|s| s.lost_writes)
        .sum::<u64>()
        .saturating_sub(base.lost);
    Ok(LoadResult {
        config: cfg,
        mode: base.mode,
        primary: base.primary,
        elapsed_s: sent.elapsed_s,
        ops: merged.ops_by_region.values().sum(),
        latency: merged.latency,
        ops_by_region: merged.ops_by_region,
        errors: merged.errors,
        condition_failed: merged.condition_failed,
        writes,
        checker: settled.checker,
        nodes: settled.nodes,
        node_conflicts,
        node_lost,
        visibility: sent.visibility,
        reads: merged.reads,
        stale_reads: merged.stale,
        staleness: merged.staleness,
        converge_ms: settled.converge_ms,
        predicted_conflict_rate,
        predicted_lost_rate,
        lost_increments: merged.increments - settled.counter_sum,
        link_latency_ms: base.link_latency_ms,
        strong,
    })
}

/// Where the cluster stood when the run started.
struct Baseline {
    /// A client and the status of every region.
    nodes: Vec<(RegionClient, pb::NodeStatus)>,
    mode: Mode,
    /// The Aurora Global primary.
    primary: Option<String>,
    /// Conflicts and lost writes the nodes had counted before (runs count from here).
    conflicts: u64,
    lost: u64,
    /// Configured one-way latency per "from>to", ms.
    link_latency_ms: BTreeMap<String, f64>,
    /// Multi-Region strong consistency (None: eventual).
    strong: Option<StrongSetup>,
}

impl Baseline {
    async fn read(cfg: &LoadConfig) -> Result<Self> {
        let nodes = cluster_status(&cfg.cluster, cfg.admin_token.as_deref()).await?;
        let first = &nodes.first().context("the cluster has no regions")?;
        let mode = if first.1.mode == pb::Mode::AuroraGlobal as i32 {
            Mode::AuroraGlobal
        } else {
            Mode::GlobalTables
        };
        let primary = (mode == Mode::AuroraGlobal).then(|| first.1.primary.clone());
        let links = first.0.links().await?;
        let link_latency_ms = links
            .links
            .iter()
            .map(|l| (format!("{}>{}", l.from, l.to), l.latency_ms))
            .collect();
        let statuses: Vec<pb::NodeStatus> = nodes.iter().map(|(_, s)| s.clone()).collect();
        let strong = StrongSetup::from_status(
            &statuses,
            &link_latency_ms,
            cfg.consistent_reads,
            cfg.retry_conflicts,
        );
        Ok(Self {
            strong,
            conflicts: nodes.iter().map(|(_, s)| s.conflicts).sum(),
            lost: nodes.iter().map(|(_, s)| s.lost_writes).sum(),
            nodes,
            mode,
            primary,
            link_latency_ms,
        })
    }

    fn clients(&self) -> Vec<RegionClient> {
        self.nodes.iter().map(|(c, _)| c.clone()).collect()
    }
}

/// What the sending phase produced.
struct Sent {
    outs: Vec<WorkerOut>,
    elapsed_s: f64,
    visibility: BTreeMap<String, Histogram<u64>>,
}

/// Start every worker (and the probes and progress line), wait until they are done.
async fn send(cfg: &LoadConfig, base: &Baseline, clients: &[RegionClients]) -> Result<Sent> {
    let shared = Shared {
        workload: Arc::new(cfg.workload.clone()),
        latest: Arc::new(Latest::default()),
        progress: Arc::new(Progress::default()),
        live: cfg.live.clone(),
        strong: base.strong.clone().map(Arc::new),
    };
    let done = Arc::new(AtomicBool::new(false));
    let begin = Instant::now();
    let when = Schedule {
        rate: cfg.rate / (cfg.regions.len() * cfg.concurrency) as f64,
        arrivals: cfg.arrivals,
        begin,
        deadline: begin + cfg.duration,
        timeout: cfg.timeout,
    };

    let mut workers = tokio::task::JoinSet::new();
    for (ri, rc) in clients.iter().enumerate() {
        for wi in 0..cfg.concurrency {
            let stream = (ri * cfg.concurrency + wi) as u64;
            workers.spawn(worker(rc.clone(), stream, when, shared.clone()));
        }
    }
    let probes = cfg.probe_interval.map(|interval| {
        // The witness serves no reads: probes are not read there.
        let all: Vec<(String, RegionClient)> = base
            .nodes
            .iter()
            .filter(|(_, s)| !s.witness)
            .map(|(c, s)| (s.region.clone(), c.clone()))
            .collect();
        let writable: Vec<String> = match &base.primary {
            Some(p) => vec![p.clone()],
            None => clients.iter().map(|c| c.region.clone()).collect(),
        };
        let prefix = cfg.workload.prefix.clone();
        tokio::spawn(probe_loop(
            all,
            writable,
            prefix,
            interval,
            when.deadline,
            done.clone(),
        ))
    });
    let ticker = cfg.progress.then(|| {
        tokio::spawn(progress_loop(
            shared.progress.clone(),
            done.clone(),
            base.clients(),
            base.conflicts,
            begin,
            cfg.duration,
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
    Ok(Sent {
        outs,
        elapsed_s,
        visibility,
    })
}

/// The workers' results, merged.
struct Merged {
    latency: BTreeMap<(String, OpKind), Histogram<u64>>,
    ops_by_region: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    writes: Vec<WriteRec>,
    condition_failed: u64,
    reads: u64,
    stale: u64,
    staleness: Histogram<u64>,
    increments: i64,
    strong: BTreeMap<String, StrongTally>,
    acked_write_latency: BTreeMap<String, Histogram<u64>>,
    strong_reads: Vec<ReadRec>,
}

impl From<Vec<WorkerOut>> for Merged {
    fn from(outs: Vec<WorkerOut>) -> Self {
        let mut m = Merged {
            latency: BTreeMap::new(),
            ops_by_region: BTreeMap::new(),
            errors: BTreeMap::new(),
            writes: Vec::new(),
            condition_failed: 0,
            reads: 0,
            stale: 0,
            staleness: histogram(),
            increments: 0,
            strong: BTreeMap::new(),
            acked_write_latency: BTreeMap::new(),
            strong_reads: Vec::new(),
        };
        for o in outs {
            m.strong.entry(o.region.clone()).or_default().add(&o.strong);
            m.acked_write_latency
                .entry(o.region.clone())
                .or_insert_with(histogram)
                .add(&o.acked_write_latency)
                .expect("same bounds");
            m.strong_reads.extend(o.strong_reads);
            for (k, h) in o.latency {
                m.latency
                    .entry((o.region.clone(), k))
                    .or_insert_with(histogram)
                    .add(&h)
                    .expect("same bounds");
            }
            *m.ops_by_region.entry(o.region.clone()).or_default() += o.ops;
            for (k, n) in o.errors {
                *m.errors.entry(k).or_default() += n;
            }
            m.writes.extend(o.writes);
            m.condition_failed += o.condition_failed;
            m.reads += o.reads;
            m.stale += o.stale;
            m.staleness.add(&o.staleness).expect("same bounds");
            m.increments += o.increments;
        }
        m
    }
}

/// What the cluster held once it settled, and the checker's verdict on it.
struct Settled {
    converge_ms: Option<u64>,
    checker: CheckReport,
    /// Node status of every region at the end.
    nodes: Vec<pb::NodeStatus>,
    /// What the counters held at the first region.
    counter_sum: i64,
}

/// Wait for quiescence; read every region's final state and this run's loss events; resolve
/// the unknown-outcome `writes`; check (in strong mode with the strong `reads` too).
async fn settle_and_check(
    cfg: &LoadConfig,
    base: &Baseline,
    writes: &mut [WriteRec],
    reads: &[ReadRec],
) -> Result<Settled> {
    let load_end = Instant::now();
    let converge_ms = wait_quiescent(&base.nodes, cfg.converge_timeout)
        .await
        .then(|| load_end.elapsed().as_millis() as u64);
    let mut finals: FinalStates = BTreeMap::new();
    let mut counter_sums = Vec::new();
    let mut events = Vec::new();
    let mut feed_complete = true;
    let mut nodes = Vec::new();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    for (c, s) in &base.nodes {
        let records = c.dump().await?;
        let (state, counters) = final_items(&records, &cfg.workload.counter_prefix());
        if base.strong.is_some() {
            seen.extend(seen_in_store(&records));
        }
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
        nodes.push(c.status().await?);
    }
    // Only this run's keys take part.
    for state in finals.values_mut() {
        state.retain(|k, _| k.starts_with(&cfg.workload.prefix) && !k.contains("probe-"));
    }
    let heads: Vec<RunStart> = base
        .nodes
        .iter()
        .map(|(c, s)| RunStart {
            client: c.clone(),
            log_head: s.log_head,
            incarnation: s.incarnation.clone(),
        })
        .collect();
    // Strong mode: what strong reads returned was committed too.
    if base.strong.is_some() {
        seen.extend(seen_by_reads(reads));
    }
    let resolution = resolve_unknown(&heads, writes, &seen).await;
    let set_aside = if base.mode == Mode::AuroraGlobal {
        set_aside(&base.clients()).await
    } else {
        HashMap::new()
    };
    let mut checker = check_with_set_aside(writes, &finals, &events, feed_complete, &set_aside);
    if base.strong.is_some() {
        check_strong(writes, reads, &finals, &events, &mut checker);
    }
    if let Some(s) = checker.strong.as_mut() {
        s.writes_resolved_unlogged = resolution.applied_unlogged;
    }
    checker.writes_resolved_applied = resolution.applied;
    checker.writes_resolved_not_applied = resolution.not_applied;
    Ok(Settled {
        converge_ms,
        checker,
        nodes,
        counter_sum: counter_sums.first().copied().unwrap_or(0),
    })
}

/// The model's conflict and lost-write rates, fed with the measured write rates by committing
/// region and the configured lags; counters and the other keys weighted by their share.
fn predict_rates(
    cfg: &LoadConfig,
    link_latency_ms: &BTreeMap<String, f64>,
    writes: &[WriteRec],
    elapsed_s: f64,
) -> (f64, f64) {
    let names: Vec<String> = cfg.cluster.regions.iter().map(|r| r.name.clone()).collect();
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
    if acked.is_empty() {
        return (0.0, 0.0);
    }
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
    (predicted_conflict_rate, predicted_lost_rate)
}
