//! `meridian demo`: the playground in one command. On the built-in three-region cluster (ports
//! chosen at run time), run the same workload in the three designs — Global Tables with
//! multi-Region eventual consistency (LWW), Global Tables with multi-Region strong consistency
//! (a write waits for a second region; a racing one gets ReplicatedWriteConflict), and Aurora
//! Global (writes sent to the primary, then through write forwarding) — cut one region off in
//! each to show what a partition does, then a switchover and a failover under writes, and print
//! one side-by-side table. Everything is stopped at the end, also on error or Ctrl-C (the nodes
//! share the demo's process group). The dashboard's update loop follows the clusters all along
//! (each phase's step is its phase text); with `--dashboard` its page is served live, and in
//! any case its recording becomes the run's replay (`replay.html`, linked from the reports).

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

mod partition;
mod table;

use anyhow::Context;
use clap::Args;
use meridian_client::{
    control::{
        Consistency, RegionClient, Session,
        aurora::{self, FailoverReport, Fleet},
        scenario::{LocalCluster, scale_lag},
    },
    dashboard::{self, Dashboard, Options, RoleChange, Target},
    load::{self, AuroraWrites, LiveLoad, LoadConfig, LoadResult},
    workload::{KeyDist, Mix, Workload, unique_prefix},
};
use meridian_core::{ClusterConfig, Consistency as MultiRegion, Mode};
use partition::PartitionReport;

/// Options of `meridian demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seconds of load per phase.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Target rate over all regions, ops/s.
    #[arg(long, default_value_t = 300.0)]
    rate: f64,
    /// Multiply every link's latency and jitter by this.
    #[arg(long, default_value_t = 1.0)]
    lag_scale: f64,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keys (fewer keys: more conflicts).
    #[arg(long, default_value_t = 100)]
    keys: u64,
    /// Where reports and node logs go.
    #[arg(long, default_value = "meridian-demo")]
    dir: PathBuf,
    /// Serve the live dashboard while the demo runs (its address is printed first).
    #[arg(long)]
    dashboard: bool,
    /// The dashboard's address (loopback; port 0: any free one). Default 127.0.0.1:7190, or
    /// any free loopback port when that one is taken.
    #[arg(long, value_name = "ADDR", requires = "dashboard")]
    dashboard_listen: Option<SocketAddr>,
}

/// One phase's outcome.
struct Phase {
    name: &'static str,
    slug: &'static str,
    result: LoadResult,
    /// What cutting [`CUT`] off did to the design (measured once per cluster).
    partition: Option<PartitionReport>,
}

/// The region every partition probe cuts off (the farthest of the built-in cluster).
const CUT: &str = "ap-south-1";

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    if !(args.lag_scale > 0.0 && args.lag_scale <= 100.0) {
        anyhow::bail!("--lag-scale must be between 0 and 100");
    }
    if !(args.duration > 0.0 && args.duration <= 3600.0) {
        anyhow::bail!("--duration must be between 0 and 3600 seconds");
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let rt = super::runtime(2)?;
    rt.block_on(demo(args))
}

fn step(dash: &Dashboard, n: usize, text: &str) {
    eprintln!("\n==> [{n}/{STEPS}] {text}");
    dash.set_phase(Some(&format!("[{n}/{STEPS}] {text}")));
}

/// What the dashboard watches in a phase: the cluster's regions, with their metrics.
fn target_of(cluster: &LocalCluster) -> Target {
    let mut t = Target::from_cluster(&cluster.cluster);
    t.apply_state(&cluster.state);
    t
}

/// The dashboard beside the demo: live on a port with `--dashboard`, else only recording.
struct Beside {
    dash: Dashboard,
    live: Arc<LiveLoad>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<meridian_client::Result<()>>,
}

impl Beside {
    async fn start(args: &DemoArgs) -> anyhow::Result<Self> {
        let live = Arc::new(LiveLoad::default());
        let dash = Dashboard::new(
            Target::default(),
            Options {
                live: Some(live.clone()),
                record: true,
                ..Options::default()
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        let task = if args.dashboard {
            let listener = super::dashboard::bind(args.dashboard_listen, false).await?;
            eprintln!(
                "==> dashboard on {} (open it now: the phases start in a moment)",
                super::dashboard::url(listener.local_addr()?)
            );
            tokio::spawn(dashboard::serve(listener, dash.clone(), stopped))
        } else {
            let d = dash.clone();
            tokio::spawn(async move { d.run(stopped).await })
        };
        Ok(Self {
            dash,
            live,
            stop,
            task,
        })
    }

    /// Stop serving and updating; the run's recording.
    async fn finish(self) -> anyhow::Result<meridian_client::dashboard::Recording> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(self.dash.recording().unwrap_or_default())
    }
}

/// Steps of the demo.
const STEPS: usize = 7;

/// How long a partition probe holds the partition: the phases' duration, at most 3 s.
fn hold(args: &DemoArgs) -> Duration {
    Duration::from_secs_f64(args.duration.min(3.0))
}

/// Cut [`CUT`] off in `cluster` and say what happened.
async fn partition_probe(
    args: &DemoArgs,
    cluster: &LocalCluster,
    forward: bool,
) -> anyhow::Result<PartitionReport> {
    eprintln!(
        "    cutting {CUT} off from both other regions for {:.1} s, clients writing and reading in every region",
        hold(args).as_secs_f64()
    );
    let p = partition::probe(cluster, CUT, hold(args), forward).await?;
    eprintln!("    {}", table::partition_line(&p));
    Ok(p)
}

/// What a Global Tables phase needs.
struct GlobalRun<'a> {
    args: &'a DemoArgs,
    binary: &'a std::path::Path,
    node_args: &'a [String],
    dash: &'a Dashboard,
    live: &'a Arc<LiveLoad>,
}

impl GlobalRun<'_> {
    /// Start `cfg`, run the workload from every region, cut [`CUT`] off, stop.
    async fn phase(
        &self,
        cfg: ClusterConfig,
        name: &'static str,
        slug: &'static str,
    ) -> anyhow::Result<Phase> {
        let mut cluster = LocalCluster::start_with_metrics(
            self.binary.to_path_buf(),
            self.args.dir.join("cluster"),
            cfg,
            self.node_args.to_vec(),
        )
        .await?;
        self.dash.set_target(target_of(&cluster));
        print_endpoints(&cluster);
        let result = run_load(
            self.args,
            &cluster.cluster,
            AuroraWrites::Primary,
            None,
            self.live,
        )
        .await?;
        let partition = Some(partition_probe(self.args, &cluster, false).await?);
        cluster.stop();
        Ok(Phase {
            name,
            slug,
            result,
            partition,
        })
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let binary = std::env::current_exe().context("cannot find the meridian binary")?;
    let base = scale_lag(ClusterConfig::builtin(), args.lag_scale);
    let node_args = vec!["--workers".to_owned(), "1".to_owned()];
    let mut phases = Vec::new();
    let beside = Beside::start(&args).await?;
    let dash = beside.dash.clone();
    let live = beside.live.clone();

    // 1. Global Tables, multi-Region eventual consistency.
    step(
        &dash,
        1,
        &format!(
            "Global Tables, eventual (LWW): 3 regions (lag ×{}), {} ops/s for {} s from every region",
            args.lag_scale, args.rate, args.duration
        ),
    );
    let mut gt = base.clone();
    gt.mode = Mode::GlobalTables;
    let run = GlobalRun {
        args: &args,
        binary: &binary,
        node_args: &node_args,
        dash: &dash,
        live: &live,
    };
    phases.push(
        run.phase(gt.clone(), "Global Tables (eventual)", "global-tables")
            .await?,
    );

    // 2. Global Tables, multi-Region strong consistency.
    step(
        &dash,
        2,
        "Global Tables, strong (MRSC): the same workload; a write waits for a second region, a racing one gets ReplicatedWriteConflict, reads are strongly consistent",
    );
    let mut strong = gt;
    strong.multi_region_consistency = MultiRegion::Strong;
    phases.push(
        run.phase(strong, "Global Tables (strong)", "global-tables-strong")
            .await?,
    );

    // 2. Aurora Global, writes to the primary.
    let mut ag = base.clone();
    ag.mode = Mode::AuroraGlobal;
    ag.primary = Some("us-east-1".into());
    ag.write_forwarding = true;
    // Aurora's rds.global_db_rpo: the failover below shows it bounding the split brain.
    ag.rpo_bound_ms = DEMO_RPO_BOUND_MS;
    step(
        &dash,
        3,
        "Aurora Global, primary us-east-1: clients everywhere write to the primary (paying the round trip)",
    );
    let mut cluster = LocalCluster::start_with_metrics(
        binary.clone(),
        args.dir.join("cluster"),
        ag.clone(),
        node_args.clone(),
    )
    .await?;
    dash.set_target(target_of(&cluster));
    print_endpoints(&cluster);
    phases.push(Phase {
        name: "Aurora (to primary)",
        slug: "aurora-primary",
        result: run_load(&args, &cluster.cluster, AuroraWrites::Primary, None, &live).await?,
        partition: None,
    });

    // 4. Aurora Global with write forwarding.
    step(
        &dash,
        4,
        "Aurora Global: secondaries forward writes (session consistency: read-your-writes)",
    );
    let result = run_load(
        &args,
        &cluster.cluster,
        AuroraWrites::Forward,
        Some(Consistency::Session),
        &live,
    )
    .await?;
    phases.push(Phase {
        name: "Aurora (forwarding)",
        slug: "aurora-forward",
        result,
        partition: Some(partition_probe(&args, &cluster, true).await?),
    });

    // 5. Switchover.
    step(&dash, 5, "planned switchover us-east-1 → eu-west-1");
    let fleet = Fleet::new(cluster.clients()?, aurora::Options::default());
    let switchover = aurora::switchover(&fleet, "eu-west-1").await?;
    dash.record_role_change(RoleChange::of_switchover(&switchover, "demo"));
    eprintln!(
        "    RPO {} writes, RTO {:.1} ms",
        switchover.rpo_writes, switchover.rto_ms
    );

    // 6. Failover under a stream of writes.
    step(
        &dash,
        6,
        "unplanned failover: eu-west-1 is lost while clients write to it; us-east-1 takes over",
    );
    let (failover, acked_at_lost) = failover_under_writes(&cluster, &fleet).await?;
    dash.record_role_change(RoleChange::of_failover(&failover, "demo"));
    eprintln!(
        "    RPO {} acknowledged writes ({:.1} ms of commits) never reached us-east-1; RTO {:.1} ms; {} writes acknowledged at eu-west-1 in all",
        failover.rpo_writes, failover.rpo_ms, failover.rto_ms, acked_at_lost
    );
    let rejoin = aurora::rejoin(&fleet, "eu-west-1").await?;
    dash.record_role_change(RoleChange::of_rejoin(&rejoin, "demo"));
    eprintln!(
        "    eu-west-1 rejoined as a secondary; {} divergent writes set aside (listed by `ctl divergent`)",
        rejoin.divergent_writes.len()
    );
    eprintln!(
        "    acknowledged writes lost: {} at the cut + {} that the isolated eu-west-1 acknowledged in split brain = {}; the split brain lasted {:.0} ms, bounded by rpo_bound_ms = {} (rds.global_db_rpo)",
        rejoin.lost_at_cut,
        rejoin.split_brain_writes,
        rejoin.total_lost,
        rejoin.split_brain_ms,
        DEMO_RPO_BOUND_MS
    );

    step(&dash, STEPS, "stopping the cluster and writing reports");
    // The recording's last update sees the cluster as the demo leaves it, before it stops.
    let recording = beside.finish().await?;
    cluster.stop();
    drop(cluster);
    if args.dashboard {
        eprintln!("    the dashboard stopped with the demo; replay.html below replays the run");
    }

    let table = table::comparison(&phases, &switchover, &failover, &rejoin);
    println!("\n{}", table.0);
    let reports =
        table::write_reports(&args, &phases, &table.1, &switchover, &failover, &recording)?;
    println!("\nreports:");
    for p in reports {
        println!("  {}", p.display());
    }
    let all_ok = phases.iter().all(|p| p.result.checker.ok);
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn run_load(
    args: &DemoArgs,
    cluster: &ClusterConfig,
    writes: AuroraWrites,
    consistency: Option<Consistency>,
    live: &Arc<LiveLoad>,
) -> anyhow::Result<LoadResult> {
    let workload = Workload::new(
        args.keys,
        KeyDist::default(),
        Mix::default(),
        meridian_client::workload::DEFAULT_VALUE_SIZE,
        args.seed,
        unique_prefix(),
    )?;
    let cfg = LoadConfig {
        duration: Duration::from_secs_f64(args.duration),
        rate: args.rate,
        // Enough in flight that far (round-trip-paying) writes never queue behind the client.
        concurrency: 64,
        workload,
        aurora_writes: writes,
        consistency,
        live: Some(live.clone()),
        ..LoadConfig::for_cluster(cluster.clone())
    };
    let result = load::run(cfg).await?;
    let k = &result.checker;
    let conflicts = match &result.strong {
        Some(s) => format!(
            "ReplicatedWriteConflict errors {:.2}% of write attempts (model {:.2}%)",
            s.total().conflict_error_rate() * 100.0,
            s.predicted_conflict_error_rate * 100.0
        ),
        None => format!(
            "conflict rate {:.2}% (model {:.2}%)",
            k.conflict_rate * 100.0,
            result.predicted_conflict_rate * 100.0
        ),
    };
    eprintln!(
        "    {:.0} ops/s, {conflicts}, {} lost writes, checker {}",
        result.ops as f64 / result.elapsed_s,
        k.lost_writes,
        if k.ok { "OK" } else { "FAILED" }
    );
    Ok(result)
}

/// Write at the primary (eu-west-1) from its own region while it is failed over; returns the
/// failover report and how many writes eu-west-1 acknowledged.
async fn failover_under_writes(
    cluster: &LocalCluster,
    fleet: &Fleet,
) -> anyhow::Result<(FailoverReport, u64)> {
    let eu = cluster
        .cluster
        .region("eu-west-1")
        .context("eu-west-1 in the cluster")?
        .listen;
    let client = RegionClient::new(eu, &Session::default())?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, stop) = (client.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = 0u64;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let key = format!("failover/k{}", n % 50);
                let value = format!("v{n}").into_bytes();
                if client.put(&key, value, None, "").await.is_ok() {
                    acked += 1;
                }
            }
            acked
        })
    };
    // Let writes flow, then lose the primary; keep writing past the RPO bound, so the report
    // shows the isolated old primary acknowledging writes (split brain) until the bound stops it.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = aurora::failover(fleet, "us-east-1").await;
    tokio::time::sleep(Duration::from_millis(DEMO_RPO_BOUND_MS + 500)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.unwrap_or(0);
    Ok((report?, acked))
}

/// The Aurora phases' RPO bound (`rpo_bound_ms`, as Aurora's `rds.global_db_rpo`), ms.
const DEMO_RPO_BOUND_MS: u64 = 1000;

/// The cluster's DynamoDB endpoints, for a user's own SDK code while the demo runs.
fn print_endpoints(cluster: &LocalCluster) {
    let list: Vec<String> = cluster
        .state
        .nodes
        .iter()
        .filter_map(|n| n.dynamodb.map(|d| format!("{} http://{d}", n.region)))
        .collect();
    if !list.is_empty() {
        eprintln!("    DynamoDB endpoints: {}", list.join(", "));
    }
}
