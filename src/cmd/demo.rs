//! `meridian demo`: the playground in one command. On the built-in three-region cluster (ports
//! chosen at run time), run the same workload in Global Tables mode and in Aurora Global mode
//! (writes sent to the primary, then through write forwarding), then a switchover and a
//! failover under writes, and print one side-by-side table. Everything is stopped at the end,
//! also on error or Ctrl-C (the nodes share the demo's process group).

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use meridian_client::{
    aurora::{self, FailoverReport, Fleet, RejoinReport, SwitchoverReport},
    client::{RegionClient, Session},
    html,
    load::{self, AuroraWrites, LoadResult, histogram},
    report,
    scenario::{LocalCluster, scale_lag},
    workload::OpKind,
};
use meridian_core::{ClusterConfig, Mode};
use meridian_proto::v1 as pb;
use serde_json::{Value, json};

use super::load::LoadArgs;

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
}

/// One phase's outcome.
struct Phase {
    name: &'static str,
    slug: &'static str,
    result: LoadResult,
}

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

fn step(n: usize, text: &str) {
    eprintln!("\n==> [{n}/6] {text}");
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let binary = std::env::current_exe().context("cannot find the meridian binary")?;
    let base = scale_lag(ClusterConfig::builtin(), args.lag_scale);
    let node_args = vec!["--workers".to_owned(), "1".to_owned()];
    let mut phases = Vec::new();

    // 1. Global Tables.
    step(
        1,
        &format!(
            "Global Tables: 3 regions (lag ×{}), {} ops/s for {} s from every region",
            args.lag_scale, args.rate, args.duration
        ),
    );
    let mut gt = base.clone();
    gt.mode = Mode::GlobalTables;
    let mut cluster = LocalCluster::start(
        binary.clone(),
        args.dir.join("cluster"),
        gt,
        node_args.clone(),
    )
    .await?;
    phases.push(Phase {
        name: "Global Tables",
        slug: "global-tables",
        result: run_load(&args, &cluster.cluster, AuroraWrites::Primary, None).await?,
    });
    cluster.stop();

    // 2. Aurora Global, writes to the primary.
    let mut ag = base.clone();
    ag.mode = Mode::AuroraGlobal;
    ag.primary = Some("us-east-1".into());
    ag.write_forwarding = true;
    // Aurora's rds.global_db_rpo: the failover below shows it bounding the split brain.
    ag.rpo_bound_ms = DEMO_RPO_BOUND_MS;
    step(
        2,
        "Aurora Global, primary us-east-1: clients everywhere write to the primary (paying the round trip)",
    );
    let mut cluster = LocalCluster::start(
        binary.clone(),
        args.dir.join("cluster"),
        ag.clone(),
        node_args.clone(),
    )
    .await?;
    phases.push(Phase {
        name: "Aurora (to primary)",
        slug: "aurora-primary",
        result: run_load(&args, &cluster.cluster, AuroraWrites::Primary, None).await?,
    });

    // 3. Aurora Global with write forwarding.
    step(
        3,
        "Aurora Global: secondaries forward writes (session consistency: read-your-writes)",
    );
    phases.push(Phase {
        name: "Aurora (forwarding)",
        slug: "aurora-forward",
        result: run_load(
            &args,
            &cluster.cluster,
            AuroraWrites::Forward,
            Some("session".into()),
        )
        .await?,
    });

    // 4. Switchover.
    step(4, "planned switchover us-east-1 → eu-west-1");
    let fleet = Fleet::new(cluster.clients()?, aurora::Options::default());
    let switchover = aurora::switchover(&fleet, "eu-west-1").await?;
    eprintln!(
        "    RPO {} writes, RTO {:.1} ms",
        switchover.rpo_writes, switchover.rto_ms
    );

    // 5. Failover under a stream of writes.
    step(
        5,
        "unplanned failover: eu-west-1 is lost while clients write to it; us-east-1 takes over",
    );
    let (failover, acked_at_lost) = failover_under_writes(&cluster, &fleet).await?;
    eprintln!(
        "    RPO {} acknowledged writes ({:.1} ms of commits) never reached us-east-1; RTO {:.1} ms; {} writes acknowledged at eu-west-1 in all",
        failover.rpo_writes, failover.rpo_ms, failover.rto_ms, acked_at_lost
    );
    let rejoin = aurora::rejoin(&fleet, "eu-west-1").await?;
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

    step(6, "stopping the cluster and writing reports");
    cluster.stop();
    drop(cluster);

    let table = comparison(&phases, &switchover, &failover, &rejoin);
    println!("\n{}", table.0);
    let reports = write_reports(&args, &phases, &table.1, &switchover, &failover)?;
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
    consistency: Option<String>,
) -> anyhow::Result<LoadResult> {
    let file = std::env::temp_dir().join(format!("meridian-demo-{}.toml", std::process::id()));
    std::fs::write(&file, cluster.to_toml())?;
    let la = LoadArgs::parse_defaults(
        &file,
        args.duration,
        args.rate,
        args.keys,
        args.seed,
        writes,
        consistency,
    );
    let cfg = la.config()?;
    let _ = std::fs::remove_file(&file);
    let result = load::run(cfg).await?;
    let k = &result.checker;
    eprintln!(
        "    {:.0} ops/s, conflict rate {:.2}% (model {:.2}%), {} lost writes, checker {}",
        result.ops as f64 / result.elapsed_s,
        k.conflict_rate * 100.0,
        result.predicted_conflict_rate * 100.0,
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
            let mut kv = client.kv();
            let mut acked = 0u64;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let req = pb::PutRequest {
                    key: format!("failover/k{}", n % 50),
                    value: format!("v{n}").into_bytes(),
                    condition: None,
                    write_id: String::new(),
                };
                if kv.put(req).await.is_ok() {
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

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn merged<'a>(hs: impl Iterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut m = histogram();
    for h in hs {
        m.add(h).expect("same bounds");
    }
    m
}

fn p50_p99(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        "—".into()
    } else {
        format!(
            "{:.1} / {:.1}",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99))
        )
    }
}

/// (local writes, far writes) latency of a phase: a write is local when the client sits in the
/// region that commits it (every region in Global Tables; the primary's in Aurora Global).
fn write_latency(r: &LoadResult) -> (Histogram<u64>, Histogram<u64>) {
    let local_region = |region: &str| r.primary.as_deref().is_none_or(|p| p == region);
    let writes = |local: bool| {
        merged(
            r.latency
                .iter()
                .filter(|((region, op), _)| {
                    op.is_write() && *op != OpKind::Get && local_region(region) == local
                })
                .map(|(_, h)| h),
        )
    };
    (writes(true), writes(false))
}

fn lag(r: &LoadResult) -> String {
    let links: Vec<_> = r
        .nodes
        .iter()
        .flat_map(|n| n.links.iter())
        .filter_map(|l| l.lag)
        .filter(|l| l.count > 0)
        .collect();
    if links.is_empty() {
        return "—".into();
    }
    let p50 = links.iter().map(|l| l.p50).sum::<f64>() / links.len() as f64;
    let p99 = links.iter().map(|l| l.p99).fold(0.0, f64::max);
    format!("{p50:.1} / {p99:.1}")
}

/// The side-by-side table, as text and as JSON rows.
fn comparison(
    phases: &[Phase],
    so: &SwitchoverReport,
    fo: &FailoverReport,
    rj: &RejoinReport,
) -> (String, Value) {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let col = |f: &dyn Fn(&Phase) -> String| phases.iter().map(f).collect::<Vec<_>>();
    rows.push((
        "local write p50 / p99 (ms)".into(),
        col(&|p| p50_p99(&write_latency(&p.result).0)),
    ));
    rows.push((
        "far write p50 / p99 (ms)".into(),
        col(&|p| p50_p99(&write_latency(&p.result).1)),
    ));
    rows.push((
        "throughput (ops/s)".into(),
        col(&|p| format!("{:.0}", p.result.ops as f64 / p.result.elapsed_s)),
    ));
    rows.push((
        "conflicts (detected by nodes)".into(),
        col(&|p| p.result.node_conflicts.to_string()),
    ));
    rows.push((
        "conflict rate measured / model".into(),
        col(&|p| {
            format!(
                "{:.2}% / {:.2}%",
                p.result.checker.conflict_rate * 100.0,
                p.result.predicted_conflict_rate * 100.0
            )
        }),
    ));
    rows.push((
        "lost writes (rate)".into(),
        col(&|p| {
            format!(
                "{} ({:.2}%)",
                p.result.checker.lost_writes,
                p.result.checker.lost_write_rate * 100.0
            )
        }),
    ));
    rows.push((
        "replication lag p50 / p99 (ms)".into(),
        col(&|p| lag(&p.result)),
    ));
    rows.push((
        "stale reads".into(),
        col(&|p| {
            if p.result.reads == 0 {
                "—".into()
            } else {
                format!(
                    "{:.1}%",
                    100.0 * p.result.stale_reads as f64 / p.result.reads as f64
                )
            }
        }),
    ));
    let aurora = |p: &Phase, s: String| {
        if p.result.mode == Mode::AuroraGlobal {
            s
        } else {
            "— (no failover)".into()
        }
    };
    rows.push((
        "RPO on failover (writes / ms)".into(),
        col(&|p| aurora(p, format!("{} / {:.1}", fo.rpo_writes, fo.rpo_ms))),
    ));
    rows.push((
        "split-brain writes lost / ms".into(),
        col(&|p| {
            aurora(
                p,
                format!("{} / {:.0}", rj.split_brain_writes, rj.split_brain_ms),
            )
        }),
    ));
    rows.push((
        "RTO switchover / failover (ms)".into(),
        col(&|p| aurora(p, format!("{:.1} / {:.1}", so.rto_ms, fo.rto_ms))),
    ));
    rows.push((
        "checker".into(),
        col(&|p| {
            if p.result.checker.ok {
                "OK".into()
            } else {
                "FAILED".into()
            }
        }),
    ));

    let width = 32;
    let colw = 22;
    let mut t = format!("{:<width$}", "");
    for p in phases {
        t += &format!("{:>colw$}", p.name);
    }
    t.push('\n');
    t += &"─".repeat(width + colw * phases.len());
    for (label, cells) in &rows {
        t += &format!("\n{label:<width$}");
        for c in cells {
            t += &format!("{c:>colw$}");
        }
    }
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|(l, c)| json!({"metric": l, "values": c}))
        .collect();
    (
        t,
        json!({"columns": phases.iter().map(|p| p.name).collect::<Vec<_>>(), "rows": json_rows}),
    )
}

fn write_reports(
    args: &DemoArgs,
    phases: &[Phase],
    table: &Value,
    so: &SwitchoverReport,
    fo: &FailoverReport,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut body = String::from("<h1>Meridian demo: Global Tables vs Aurora Global</h1>");
    body += "<table><tr><th></th>";
    for c in table["columns"].as_array().into_iter().flatten() {
        body += &format!("<th>{}</th>", c.as_str().unwrap_or(""));
    }
    body += "</tr>";
    for row in table["rows"].as_array().into_iter().flatten() {
        body += &format!("<tr><td>{}</td>", row["metric"].as_str().unwrap_or(""));
        for v in row["values"].as_array().into_iter().flatten() {
            body += &format!("<td>{}</td>", v.as_str().unwrap_or(""));
        }
        body += "</tr>";
    }
    body += "</table>";
    let mut phase_json = serde_json::Map::new();
    for p in phases {
        let json_path = args.dir.join(format!("{}.json", p.slug));
        std::fs::write(
            &json_path,
            serde_json::to_string_pretty(&report::to_json(&p.result))?,
        )?;
        written.push(json_path);
        written.extend(report::write_hgrm_files(
            &p.result,
            &args.dir.join("hgrm").join(p.slug),
        )?);
        let html_path = args.dir.join(format!("{}.html", p.slug));
        std::fs::write(&html_path, html::load_report(&p.result))?;
        written.push(html_path);
        body += &format!("<h2>{}</h2>", p.name);
        body += &html::load_charts(&p.result, &format!("{}: ", p.name));
        phase_json.insert(p.slug.into(), report::to_json(&p.result));
    }
    let demo_json = json!({"table": table, "switchover": aurora::to_json(so), "failover": aurora::to_json(fo), "phases": phase_json});
    let path = args.dir.join("demo.json");
    std::fs::write(&path, serde_json::to_string_pretty(&demo_json)?)?;
    written.push(path);
    let path = args.dir.join("demo.html");
    std::fs::write(&path, html::page("Meridian demo", &body))?;
    written.push(path);
    // Only the summary files, not every .hgrm, are listed to the user.
    written.retain(|p| p.extension().is_some_and(|e| e != "hgrm"));
    written.push(args.dir.join("hgrm"));
    Ok(written)
}
