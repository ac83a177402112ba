//! What one benchmark run measures and how hard: scenario durations and counts, the matrix's
//! axes, and the worker counts of every process.
//!
//! Worker counts are chosen, not defaulted: on a 2-core machine the client and the server under
//! test share the cores, and a tokio runtime with one worker per core in each of several
//! processes gives multi-millisecond scheduler stalls. So nodes and the echo server get one
//! worker each and the client one thread unless told otherwise, and the report prints them.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use anyhow::bail;
use meridian_core::Mode;

/// The scenarios, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Raw echo baseline (always run when a throughput ratio needs it).
    Echo,
    /// Single-region put and get throughput.
    Single,
    /// Three-region Global Tables aggregate throughput and per-link lag.
    Global,
    /// Multi-Region strong consistency: throughput against eventual, latency over the round trip.
    Strong,
    /// Catch-up speed of a region returning from a partition.
    Catchup,
    /// Configured vs observed replication lag at a moderate rate.
    Fidelity,
    /// Node memory per key.
    Memory,
    /// Mode × lag × key skew × rate.
    Matrix,
    /// The DynamoDB endpoint (PutItem / GetItem), beside the gRPC put and dynalite.
    Dynamodb,
    /// Three regions at half their keep-up rate for minutes: RSS and data dir over time.
    Soak,
}

impl Scenario {
    /// Every scenario, in run order.
    pub const ALL: [Scenario; 10] = [
        Scenario::Echo,
        Scenario::Single,
        Scenario::Global,
        Scenario::Strong,
        Scenario::Catchup,
        Scenario::Fidelity,
        Scenario::Memory,
        Scenario::Matrix,
        Scenario::Dynamodb,
        Scenario::Soak,
    ];

    /// The name used in `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Echo => "echo",
            Scenario::Single => "single",
            Scenario::Global => "global",
            Scenario::Strong => "strong",
            Scenario::Catchup => "catchup",
            Scenario::Fidelity => "fidelity",
            Scenario::Memory => "memory",
            Scenario::Matrix => "matrix",
            Scenario::Dynamodb => "dynamodb",
            Scenario::Soak => "soak",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown scenario {s:?} (expected one of {})",
                    Scenario::ALL.map(|x| x.name()).join(", ")
                )
            })
    }
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `meridian` binary the nodes run.
    pub meridian: PathBuf,
    /// This binary (it serves the echo baseline as `echo-server`).
    pub bench_exe: PathBuf,
    /// Output directory (results files, and node logs under `clusters/`).
    pub out: PathBuf,
    /// Measured time of each throughput scenario and of each matrix cell.
    pub duration: Duration,
    /// Unmeasured warm-up before each closed-loop measurement.
    pub warmup: Duration,
    /// Requests in flight of the closed-loop driver (per sending region).
    pub inflight: usize,
    /// Echo payload and value size, bytes.
    pub payload: usize,
    /// Keys the single-region put/get runs spread over.
    pub keys: u64,
    /// Tokio worker threads of every node and of the echo server.
    pub node_workers: usize,
    /// Node storage modes (`durable`, `memory`): every node scenario runs once per mode, the
    /// matrix with the first only.
    pub storages: Vec<String>,
    /// Tokio threads of the benchmark client (1: current-thread runtime).
    pub client_threads: usize,
    /// Writes made while a region is partitioned away (catch-up).
    pub catchup_writes: u64,
    /// Distinct keys written for the memory figure.
    pub memory_keys: u64,
    /// Open-loop rate of the lag-fidelity run, ops/s over all regions.
    pub fidelity_rate: f64,
    /// Matrix: modes.
    pub modes: Vec<Mode>,
    /// Matrix: one-way link latencies, ms (every link of the three regions).
    pub lags_ms: Vec<f64>,
    /// Matrix: key distributions (`uniform`, `zipf:THETA`, `hot:N:F`).
    pub dists: Vec<String>,
    /// Matrix: open-loop rates, ops/s over all regions.
    pub rates: Vec<f64>,
    /// Matrix: keys.
    pub matrix_keys: u64,
    /// Matrix: operation mix.
    pub matrix_mix: String,
    /// Length of the soak.
    pub soak: Duration,
    /// Offered rate of the soak, ops/s over all regions (None: half the keep-up rate).
    pub soak_rate: Option<f64>,
    /// Seed of every workload.
    pub seed: u64,
    /// Which scenarios run.
    pub scenarios: Vec<Scenario>,
    /// The command line, for the report.
    pub command: String,
}

impl Options {
    /// Does `s` run? (The echo baseline runs whenever a ratio to it is reported.)
    pub fn runs(&self, s: Scenario) -> bool {
        self.scenarios.contains(&s)
            || (s == Scenario::Echo
                && self
                    .scenarios
                    .iter()
                    .any(|x| matches!(x, Scenario::Single | Scenario::Global)))
    }

    /// The storage mode of the matrix (the first given).
    pub fn storage(&self) -> &str {
        self.storages.first().map_or("durable", String::as_str)
    }

    /// Node arguments of a cluster whose nodes keep their state in `storage`.
    pub fn node_args(&self, storage: &str) -> Vec<String> {
        vec![
            "--workers".into(),
            self.node_workers.to_string(),
            "--storage".into(),
            storage.to_owned(),
        ]
    }

    /// Check ranges that would make a run meaningless.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.duration.is_zero() {
            bail!("--duration must be positive");
        }
        if !(1..=10_000).contains(&self.inflight) {
            bail!("--inflight must be between 1 and 10000");
        }
        if self.node_workers == 0 || self.client_threads == 0 {
            bail!("worker counts must be at least 1");
        }
        if self.storages.is_empty()
            || self
                .storages
                .iter()
                .any(|s| !["durable", "memory"].contains(&s.as_str()))
        {
            bail!("--storages: give durable and/or memory");
        }
        if self.keys == 0 || self.matrix_keys == 0 {
            bail!("key counts must be at least 1");
        }
        if self.catchup_writes == 0 || self.memory_keys == 0 {
            bail!("--catchup-writes and --memory-keys must be at least 1");
        }
        if !(self.fidelity_rate > 0.0 && self.fidelity_rate.is_finite()) {
            bail!("--fidelity-rate must be positive");
        }
        if self
            .rates
            .iter()
            .chain(&self.lags_ms)
            .any(|x| !(x.is_finite() && *x >= 0.0))
        {
            bail!("--rates and --lags must be non-negative numbers");
        }
        if self.rates.contains(&0.0) {
            bail!("--rates: the matrix runs open loop; give rates above 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip_and_unknown_names_are_refused() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>().unwrap(), s);
        }
        let e = "speed".parse::<Scenario>().unwrap_err().to_string();
        assert!(e.contains("echo, single"), "{e}");
    }
}
