//! The demo's side-by-side table (text and JSON rows) and the report files it writes,
//! the replay of the run among them.

use std::path::PathBuf;

use hdrhistogram::Histogram;
use meridian_client::{
    control::aurora::{self, FailoverReport, RejoinReport, SwitchoverReport},
    dashboard::{self, Recording},
    load::{LoadResult, histogram},
    report::{self, html},
    workload::OpKind,
};
use meridian_core::Mode;
use serde_json::{Value, json};

use super::{DemoArgs, Phase, partition::PartitionReport};

/// The demo's replay page (the dashboard's views of the whole run), beside its reports.
const REPLAY_FILE: &str = "replay.html";

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

/// `n/m` with the refusals' codes, e.g. `0/35 (Unavailable)`.
fn acked(sent: u64, acked: u64, refused: &std::collections::BTreeMap<String, u64>) -> String {
    let codes: Vec<&str> = refused.keys().map(String::as_str).collect();
    if codes.is_empty() {
        format!("{acked}/{sent}")
    } else {
        format!("{acked}/{sent} ({})", codes.join(", "))
    }
}

/// One line on what a partition did, for the demo's progress output.
pub(super) fn partition_line(p: &PartitionReport) -> String {
    let (sent, ok) = p.others_writes();
    let cut = p.cut_off();
    format!(
        "{} cut off: its writes acknowledged {}, its strong reads served {}, its eventual reads served {}; the other regions' writes acknowledged {ok}/{sent}; after the heal {} wrote again in {}",
        p.cut,
        cut.map_or("—".into(), |t| acked(t.writes, t.acked, &t.refused)),
        cut.filter(|t| t.strong_reads > 0)
            .map_or("— (none)".into(), |t| format!(
                "{}/{}",
                t.strong_served, t.strong_reads
            )),
        cut.map_or("—".into(), |t| format!(
            "{}/{}",
            t.eventual_served, t.eventual_reads
        )),
        p.cut,
        p.back_ms
            .map_or("— (not within 30 s)".into(), |ms| format!("{ms:.0} ms")),
    )
}

/// The worst region's p50 of acknowledged writes minus its round trip to the nearest
/// participant, ms (strong mode).
fn p50_over_rtt(r: &LoadResult) -> Option<f64> {
    let s = r.strong.as_ref()?;
    s.by_region
        .keys()
        .filter_map(|region| s.p50_over_rtt_ms(region))
        .max_by(f64::total_cmp)
}

/// The side-by-side table, as text and as JSON rows.
pub(super) fn comparison(
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
    let strong = |p: &Phase, f: &dyn Fn(&meridian_client::load::StrongResult) -> String| {
        p.result.strong.as_ref().map_or_else(|| "—".into(), f)
    };
    rows.push((
        "write p50 − nearest RTT, worst region (ms)".into(),
        col(&|p| p50_over_rtt(&p.result).map_or("—".into(), |d| format!("{d:+.1}"))),
    ));
    rows.push((
        "ReplicatedWriteConflict errors / model".into(),
        col(&|p| {
            strong(p, &|s| {
                format!(
                    "{} ({:.1}% / {:.1}%)",
                    s.total().conflict_errors,
                    s.total().conflict_error_rate() * 100.0,
                    s.predicted_conflict_error_rate * 100.0
                )
            })
        }),
    ));
    rows.push((
        "stale strong reads (checker)".into(),
        col(&|p| match &p.result.checker.strong {
            Some(c) => format!("{} of {}", c.stale_reads, c.strong_reads),
            None => "— (no strong reads)".into(),
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
    let part = |p: &Phase, f: &dyn Fn(&PartitionReport) -> String| {
        p.partition.as_ref().map_or_else(|| "—".into(), f)
    };
    rows.push((
        format!("partition: {} writes acked", super::CUT),
        col(&|p| {
            part(p, &|x| {
                x.cut_off()
                    .map_or("—".into(), |t| acked(t.writes, t.acked, &t.refused))
            })
        }),
    ));
    rows.push((
        "partition: other regions' writes acked".into(),
        col(&|p| {
            part(p, &|x| {
                let (sent, ok) = x.others_writes();
                format!("{ok}/{sent}")
            })
        }),
    ));
    rows.push((
        format!("partition: {} strong / eventual reads", super::CUT),
        col(&|p| {
            part(p, &|x| {
                x.cut_off().map_or("—".into(), |t| {
                    let strong = if t.strong_reads > 0 {
                        format!("{}/{}", t.strong_served, t.strong_reads)
                    } else {
                        "—".into()
                    };
                    format!("{strong} · {}/{}", t.eventual_served, t.eventual_reads)
                })
            })
        }),
    ));
    rows.push((
        format!("after heal: {} writes again (ms)", super::CUT),
        col(&|p| {
            part(p, &|x| {
                x.back_ms.map_or("—".into(), |ms| format!("{ms:.0}"))
            })
        }),
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

    let width = 42;
    let colw = 26;
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

pub(super) fn write_reports(
    args: &DemoArgs,
    phases: &[Phase],
    table: &Value,
    so: &SwitchoverReport,
    fo: &FailoverReport,
    recording: &Recording,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let replay_path = args.dir.join(REPLAY_FILE);
    std::fs::write(
        &replay_path,
        dashboard::replay_page(recording, "Meridian demo — replay"),
    )?;
    let mut body = String::from(
        "<h1>Meridian demo: Global Tables (eventual and strong) vs Aurora Global</h1>",
    );
    body += &html::replay_link(Some(REPLAY_FILE));
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
        std::fs::write(&html_path, html::load_report(&p.result, Some(REPLAY_FILE)))?;
        written.push(html_path);
        body += &format!("<h2>{}</h2>", p.name);
        body += &html::load_charts(&p.result, &format!("{}: ", p.name));
        phase_json.insert(p.slug.into(), report::to_json(&p.result));
    }
    let partitions: serde_json::Map<String, Value> = phases
        .iter()
        .filter_map(|p| Some((p.slug.to_owned(), p.partition.as_ref()?.to_json())))
        .collect();
    let demo_json = json!({"table": table, "switchover": aurora::to_json(so), "failover": aurora::to_json(fo), "phases": phase_json, "partitions": partitions});
    let path = args.dir.join("demo.json");
    std::fs::write(&path, serde_json::to_string_pretty(&demo_json)?)?;
    written.push(path);
    let path = args.dir.join("demo.html");
    std::fs::write(&path, html::page("Meridian demo", &body))?;
    written.push(path);
    written.push(replay_path);
    // Only the summary files, not every .hgrm, are listed to the user.
    written.retain(|p| p.extension().is_some_and(|e| e != "hgrm"));
    written.push(args.dir.join("hgrm"));
    Ok(written)
}
