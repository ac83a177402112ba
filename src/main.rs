//! `meridian`: the one user-facing binary of the Meridian replication playground.
//!
//! Subcommands: `node` (one region's node process), `cluster` (a local multi-process
//! cluster), `ctl` (talk to a node: items, links, partitions, stats, conflicts, role changes),
//! `dashboard` (the live web page of a cluster), `demo`, `load` (drive a cluster, check,
//! report), `check`. Each lives in `cmd/`.

mod cmd;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Meridian: a multi-region replication playground — DynamoDB Global Tables–style
/// last-writer-wins vs Aurora Global–style single writer, as real gRPC node processes.
#[derive(Parser, Debug)]
#[command(name = "meridian", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one region's node (a gRPC server) until Ctrl-C or SIGTERM.
    Node(cmd::node::NodeArgs),
    /// A multi-process local cluster: up, status, down, kill or restart a region.
    Cluster(cmd::cluster::ClusterCmdArgs),
    /// Talk to a region's node: put/get/delete, stats, conflicts, links, partitions.
    Ctl(cmd::ctl::CtlArgs),
    /// Serve the live dashboard of a running cluster: topology, charts, conflicts, controls.
    Dashboard(cmd::dashboard::DashboardArgs),
    /// Start a cluster, run Global Tables vs Aurora Global side by side, print the comparison.
    Demo(cmd::demo::DemoArgs),
    /// Drive a running cluster with load; report latency, conflicts, lag; check the outcome.
    Load(cmd::load::LoadArgs),
    /// Check a recorded history (`ctl --json` write replies) against the running cluster.
    Check(cmd::check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node(args) => cmd::node::run(args),
        Command::Cluster(args) => cmd::cluster::run(args),
        Command::Ctl(args) => cmd::ctl::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Dashboard(args) => cmd::dashboard::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Check(args) => cmd::check::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
