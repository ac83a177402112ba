//! `meridian check`: run the checker on a history recorded by hand or by a script — the JSON
//! lines `meridian ctl put/delete/incr --json` printed — against the running cluster's final
//! state and conflict feeds. Exit status 0 when the history checks out, 1 when it does not.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Args;
use meridian_client::{check::history::WriteRec, load::check_history};

use super::ClusterArgs;

/// Options of `meridian check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The acknowledged writes: one JSON object per line, as `meridian ctl --json` prints a
    /// write's reply (`key`, `write_id`, `version`, `context`). Blank lines are skipped.
    #[arg(long, value_name = "FILE")]
    history: PathBuf,
    /// Seconds to wait for the regions to apply every write before reading their state.
    #[arg(long, default_value_t = 30)]
    converge_timeout: u64,
    /// Admin token of the nodes.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Print the checker's report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let cluster = args.cluster.load()?;
    let text = std::fs::read_to_string(&args.history)
        .with_context(|| format!("cannot read {}", args.history.display()))?;
    let mut writes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let where_ = || format!("{}:{}", args.history.display(), i + 1);
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: not JSON", where_()))?;
        writes.push(
            WriteRec::from_reply_json(&v)
                .map_err(|e| anyhow::anyhow!("{}: not a write reply: {e}", where_()))?,
        );
    }
    let rt = super::runtime(1)?;
    let report = rt.block_on(check_history(
        &cluster,
        args.admin_token.as_deref(),
        &writes,
        Duration::from_secs(args.converge_timeout),
    ))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.ok && report.strong.is_some() {
        println!(
            "checker: OK — {} acknowledged writes over {} keys: all regions identical; strong consistency: no LWW loser, one causal chain per key, every write in every region's history",
            report.writes_acked, report.keys_checked
        );
    } else if report.ok {
        println!(
            "checker: OK — {} acknowledged writes over {} keys: all regions identical, LWW winners, every conflict genuine, every lost write reported ({} lost)",
            report.writes_acked, report.keys_checked, report.lost_writes
        );
    } else {
        println!("checker: FAILED — {:?}", report.violation_counts);
        for v in &report.violations {
            println!("  {} {:?}: {}", v.kind, v.key, v.detail);
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
