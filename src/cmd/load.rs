//! `meridian load`: drive a running cluster, then check and report (with the HTML report, a
//! replay of the run in the dashboard's views beside it).

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Args;
use meridian_client::{
    control::Consistency,
    dashboard::{Dashboard, Options, Recording, Target, replay_page},
    load::{
        self, Arrivals, AuroraWrites, LiveLoad, LoadConfig, LoadResult,
        config::{
            DEFAULT_CONCURRENCY, DEFAULT_CONVERGE_TIMEOUT_S, DEFAULT_DURATION_S,
            DEFAULT_PROBE_INTERVAL_MS, DEFAULT_RATE, DEFAULT_TIMEOUT_MS, MAX_CONCURRENCY,
            MAX_RETRY_CONFLICTS,
        },
    },
    report::{self, html},
    workload::{
        DEFAULT_DIST, DEFAULT_KEYS, DEFAULT_MIX, DEFAULT_SEED, DEFAULT_VALUE_SIZE, KeyDist, Mix,
        Workload, unique_prefix,
    },
};

use super::ClusterArgs;

/// Options of `meridian load`.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// How long to send load, seconds.
    #[arg(long, default_value_t = DEFAULT_DURATION_S)]
    pub duration: f64,
    /// Target rate over all regions, ops/s (open loop). 0 means closed loop.
    #[arg(long, default_value_t = DEFAULT_RATE)]
    pub rate: f64,
    /// Closed loop: send back to back (same as --rate 0).
    #[arg(long)]
    pub closed: bool,
    /// Workers per region: requests in flight at most (open loop) or always (closed loop).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = super::count(1, MAX_CONCURRENCY as u64))]
    pub concurrency: usize,
    /// Number of keys.
    #[arg(long, default_value_t = DEFAULT_KEYS)]
    pub keys: u64,
    /// Key distribution: uniform, zipf:THETA, hot:KEYS:FRACTION.
    #[arg(long, default_value = DEFAULT_DIST)]
    pub dist: KeyDist,
    /// Operation mix, weights: put, get, delete, cput (put if absent), incr.
    #[arg(long, default_value = DEFAULT_MIX)]
    pub mix: Mix,
    /// Value size, bytes.
    #[arg(long, default_value_t = DEFAULT_VALUE_SIZE)]
    pub value_size: usize,
    /// Seed of the workload.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Regions that send load (comma-separated). Default: every region.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Open-loop arrivals: poisson or uniform.
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// Aurora Global: clients outside the primary region write to the primary (`primary`) or
    /// through their own region with write forwarding (`forward`).
    #[arg(long, value_enum, default_value_t = AuroraWrites::Primary)]
    pub aurora_writes: AuroraWrites,
    /// Aurora Global consistency for forwarded writes and reads: eventual, session, global.
    #[arg(long, value_enum)]
    pub consistency: Option<Consistency>,
    /// Visibility probes every this many ms (0: off).
    #[arg(long, default_value_t = DEFAULT_PROBE_INTERVAL_MS)]
    pub probe_interval_ms: u64,
    /// Deadline of one request, ms.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_MS)]
    pub timeout_ms: u64,
    /// How long to wait for the cluster to converge after the load, seconds.
    #[arg(long, default_value_t = DEFAULT_CONVERGE_TIMEOUT_S)]
    pub converge_timeout: u64,
    /// Key prefix (default: unique per run, so runs never see each other's data).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write .hgrm percentile files into this directory.
    #[arg(long, value_name = "DIR")]
    pub hgrm_dir: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Tokio worker threads of the load client (1-64).
    #[arg(long, default_value_t = 1, value_parser = super::count(1, 64))]
    pub workers: usize,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Admin token of the nodes.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Multi-Region strong consistency: retry a write refused with ReplicatedWriteConflict up
    /// to N times (after a full-jitter backoff that starts at the round trip to the nearest
    /// participant and doubles). Every refusal and retry is counted per region.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=MAX_RETRY_CONFLICTS as i64))]
    pub retry_conflicts: u32,
    /// Multi-Region strong consistency: strongly consistent reads (`GetRequest.consistent_read`,
    /// checked for linearizability). On by default in a strong cluster; `--consistent-reads
    /// false` reads each region's local copy instead. Refused for an eventual cluster.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub consistent_reads: Option<bool>,
}

impl LoadArgs {
    /// Validate and build the load configuration.
    pub fn config(&self) -> anyhow::Result<LoadConfig> {
        let cluster = self.cluster.load()?;
        if !(self.duration > 0.0 && self.duration <= 24.0 * 3600.0) {
            anyhow::bail!("--duration must be between 0 and 86400 seconds");
        }
        let prefix = self.prefix.clone().unwrap_or_else(unique_prefix);
        let workload = Workload::new(
            self.keys,
            self.dist.clone(),
            self.mix.clone(),
            self.value_size,
            self.seed,
            prefix,
        )?;
        let regions = if self.regions.is_empty() {
            cluster.regions.iter().map(|r| r.name.clone()).collect()
        } else {
            self.regions.clone()
        };
        Ok(LoadConfig {
            cluster,
            regions,
            duration: Duration::from_secs_f64(self.duration),
            rate: if self.closed { 0.0 } else { self.rate },
            concurrency: self.concurrency,
            workload,
            arrivals: self.arrivals,
            aurora_writes: self.aurora_writes,
            consistency: self.consistency,
            probe_interval: (self.probe_interval_ms > 0)
                .then(|| Duration::from_millis(self.probe_interval_ms)),
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            converge_timeout: Duration::from_secs(self.converge_timeout),
            progress: !self.quiet,
            admin_token: self.admin_token.clone(),
            live: None,
            retry_conflicts: self.retry_conflicts,
            consistent_reads: self.consistent_reads,
        })
    }

    /// Write the requested report files (with the HTML report, the replay of the run beside
    /// it, from `recording`); returns what was written.
    pub fn write_reports(
        &self,
        r: &LoadResult,
        recording: Option<&Recording>,
    ) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if let Some(p) = &self.report_json {
            std::fs::write(p, serde_json::to_string_pretty(&report::to_json(r))?)
                .with_context(|| format!("cannot write {}", p.display()))?;
            written.push(p.clone());
        }
        if let Some(d) = &self.hgrm_dir {
            written.extend(report::write_hgrm_files(r, d)?);
        }
        if let Some(p) = &self.report_html {
            let replay = recording.map(|rec| {
                let stem = p.file_stem().unwrap_or_default().to_string_lossy();
                (p.with_file_name(format!("{stem}-replay.html")), rec)
            });
            let href = replay
                .as_ref()
                .and_then(|(path, _)| path.file_name())
                .map(|n| n.to_string_lossy().into_owned());
            std::fs::write(p, html::load_report(r, href.as_deref()))
                .with_context(|| format!("cannot write {}", p.display()))?;
            written.push(p.clone());
            if let Some((path, rec)) = replay {
                std::fs::write(&path, replay_page(rec, "Meridian load — replay"))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                written.push(path);
            }
        }
        Ok(written)
    }
}

pub fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let mut cfg = args.config()?;
    let rt = super::runtime(args.workers)?;
    // With an HTML report, the dashboard's update loop records the run for its replay.
    let recorder = args.report_html.as_ref().map(|_| {
        let live = Arc::new(LiveLoad::default());
        cfg.live = Some(live.clone());
        Dashboard::new(
            Target::from_cluster(&cfg.cluster),
            Options {
                live: Some(live),
                record: true,
                admin_token: args.admin_token.clone(),
                ..Options::default()
            },
        )
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let recording = recorder.clone().map(|d| {
        rt.spawn(async move {
            d.run(async {
                let _ = stopped.await;
            })
            .await
        })
    });
    let result = rt.block_on(load::run(cfg))?;
    let _ = stop.send(());
    let recording = match (recording, recorder) {
        (Some(task), Some(d)) => {
            rt.block_on(task)??;
            d.recording()
        }
        _ => None,
    };
    print!("{}", report::summary(&result));
    for p in args.write_reports(&result, recording.as_ref())? {
        println!("wrote {}", p.display());
    }
    Ok(if result.checker.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
