//! What the scenarios measured, typed. Rendering (tables, charts, files) lives in
//! [`report`](crate::report); the scenarios only fill this in.

use crate::driver::Outcome;

/// Replication lag of one link, ms.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkLag {
    /// `origin>destination`.
    pub link: String,
    /// Configured one-way latency.
    pub configured_ms: f64,
    /// Configured ± jitter.
    pub jitter_ms: f64,
    /// Writes the lag was measured over.
    pub count: u64,
    /// Observed lag (apply time − origin commit time).
    pub p50_ms: f64,
    /// See above.
    pub p99_ms: f64,
    /// Writes not yet applied when the load stopped.
    pub pending: u64,
}

/// One region's write latency on the strong cluster at a moderate paced rate.
#[derive(Clone, Debug)]
pub struct StrongRegion {
    /// The region.
    pub region: String,
    /// Its nearest participant.
    pub nearest: String,
    /// Configured round trip to it (one-way latencies there and back), ms.
    pub rtt_ms: f64,
    /// The region's puts (latency from the intended start).
    pub puts: Outcome,
}

impl StrongRegion {
    /// p50 minus the configured round trip, ms: what the node adds to the physics.
    pub fn p50_over_rtt_ms(&self) -> f64 {
        self.puts.quantile_ms(0.5) - self.rtt_ms
    }
}

/// Multi-Region strong consistency against eventual, in the same run.
#[derive(Clone, Debug)]
pub struct StrongResult {
    /// Node storage mode.
    pub storage: String,
    /// Flat out, every region: the eventual cluster, then the strong one.
    pub eventual: Outcome,
    /// See above (errors: ReplicatedWriteConflict refusals, mostly).
    pub strong: Outcome,
    /// Little's-law bound of the strong flat-out run: Σ regions in-flight / round trip, ops/s.
    pub strong_bound: f64,
    /// The moderate rate, ops/s over all regions.
    pub paced_rate: f64,
    /// Per region at that rate.
    pub paced: Vec<StrongRegion>,
}

impl StrongResult {
    /// Acknowledged writes per second of a run (errors left out).
    pub fn acked_rate(o: &Outcome) -> f64 {
        o.calls.saturating_sub(o.errors) as f64 / o.elapsed.as_secs_f64().max(1e-9)
    }

    /// Strong acknowledged-write throughput as a fraction of eventual's.
    pub fn ratio(&self) -> f64 {
        Self::acked_rate(&self.strong) / Self::acked_rate(&self.eventual).max(1e-9)
    }

    /// The region whose p50 exceeds its round trip the most.
    pub fn worst(&self) -> Option<&StrongRegion> {
        self.paced
            .iter()
            .max_by(|a, b| a.p50_over_rtt_ms().total_cmp(&b.p50_over_rtt_ms()))
    }
}

/// One load level of the three-region run.
#[derive(Clone, Debug)]
pub struct GlobalStep {
    /// Offered rate over all regions, ops/s; `None` for closed loop (flat out).
    pub offered: Option<f64>,
    /// All regions together.
    pub total: Outcome,
    /// Per region: (region, ops/s).
    pub per_region: Vec<(String, f64)>,
    /// Every link's lag over the whole step.
    pub links: Vec<LinkLag>,
    /// Time from the end of the load until every region had applied everything, ms.
    pub drain_ms: Option<u64>,
}

impl GlobalStep {
    /// Did every link's p99 lag stay within configured + `allowance_ms`?
    pub fn kept_up(&self, allowance_ms: f64) -> bool {
        !self.links.is_empty()
            && self
                .links
                .iter()
                .all(|l| l.p99_ms <= l.configured_ms + allowance_ms)
    }

    /// The largest p99 lag over configured, ms.
    pub fn worst_excess_ms(&self) -> f64 {
        self.links
            .iter()
            .map(|l| l.p99_ms - l.configured_ms)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Three-region Global Tables aggregate throughput: flat out first, then paced at lower
/// rates until replication keeps up.
#[derive(Clone, Debug)]
pub struct GlobalResult {
    /// Storage mode of the nodes.
    pub storage: String,
    /// The load levels, flat out first.
    pub steps: Vec<GlobalStep>,
    /// Allowance over the configured latency for "keeping up", ms.
    pub allowance_ms: f64,
}

impl GlobalResult {
    /// The closed-loop (flat-out) step.
    pub fn flat_out(&self) -> Option<&GlobalStep> {
        self.steps.iter().find(|s| s.offered.is_none())
    }

    /// The step with the highest throughput among those where replication kept up.
    pub fn best_kept_up(&self) -> Option<&GlobalStep> {
        self.steps
            .iter()
            .filter(|s| s.kept_up(self.allowance_ms))
            .max_by(|a, b| a.total.rate().total_cmp(&b.total.rate()))
    }
}

/// Catch-up of a region returning from a partition.
#[derive(Clone, Debug)]
pub struct CatchupResult {
    /// Storage mode of the nodes.
    pub storage: String,
    /// Writes made at the origin while the other region was cut off.
    pub writes: u64,
    /// Rate they were made at, ops/s.
    pub write_rate: f64,
    /// Errors while writing.
    pub errors: u64,
    /// Configured link latency, ms.
    pub lag_ms: f64,
    /// From heal until the returning region had applied the origin's head, ms.
    pub catchup_ms: f64,
}

impl CatchupResult {
    /// Writes applied per second by the returning region.
    pub fn rate(&self) -> f64 {
        self.writes as f64 / (self.catchup_ms / 1000.0).max(1e-9)
    }
}

/// Replication-lag fidelity with one storage mode.
#[derive(Clone, Debug)]
pub struct FidelityResult {
    /// Storage mode of the nodes.
    pub storage: String,
    /// Every link's lag.
    pub links: Vec<LinkLag>,
}

impl FidelityResult {
    /// The link whose p50 is furthest from its configured latency.
    pub fn worst(&self) -> Option<&LinkLag> {
        self.links.iter().filter(|l| l.count > 0).max_by(|a, b| {
            (a.p50_ms - a.configured_ms)
                .abs()
                .total_cmp(&(b.p50_ms - b.configured_ms).abs())
        })
    }
}

/// Single-region put and get throughput with one storage mode.
#[derive(Clone, Debug)]
pub struct SingleResult {
    /// Storage mode of the node.
    pub storage: String,
    /// Puts.
    pub put: Outcome,
    /// Gets.
    pub get: Outcome,
}

/// The DynamoDB endpoint of one node, beside its gRPC put and dynalite.
#[derive(Clone, Debug)]
pub struct DynamoResult {
    /// Storage mode of the node.
    pub storage: String,
    /// PutItem over HTTP.
    pub put: Outcome,
    /// GetItem over HTTP.
    pub get: Outcome,
    /// gRPC puts of the same node, same in-flight count and value size.
    pub grpc_put: Outcome,
    /// dynalite driven by the same client, or why it was not.
    pub dynalite: Result<PeerResult, String>,
}

/// One node of the soak: its samples and what they say.
#[derive(Clone, Debug)]
pub struct SoakNode {
    /// Region.
    pub region: String,
    /// (seconds since start, RSS bytes, data-dir bytes).
    pub samples: Vec<(f64, u64, u64)>,
    /// Seconds of warm-up before the steady part.
    pub warmup_s: f64,
}

impl SoakNode {
    /// From its samples. Warm-up: the first fifth of the run, and at least `min_warmup_s`
    /// (the time the own log takes to reach its steady length: the retention window).
    pub fn from_samples(region: &str, samples: Vec<(f64, u64, u64)>, min_warmup_s: f64) -> Self {
        let end = samples.last().map_or(0.0, |s| s.0);
        Self {
            region: region.to_owned(),
            samples,
            warmup_s: (end / 5.0).max(min_warmup_s),
        }
    }

    /// The samples after warm-up.
    fn steady(&self) -> &[(f64, u64, u64)] {
        let from = self.samples.partition_point(|s| s.0 < self.warmup_s);
        &self.samples[from.min(self.samples.len().saturating_sub(2))..]
    }

    /// Change of a figure over the steady samples, as a fraction: the mean of the last
    /// quarter against the mean of the first (single samples would measure where a sawtooth —
    /// memtables, journal segments, compactions — happened to be).
    fn change(&self, pick: fn(&(f64, u64, u64)) -> u64) -> f64 {
        let s = self.steady();
        let q = (s.len() / 4).max(1);
        if s.len() < 2 {
            return 0.0;
        }
        let mean = |part: &[(f64, u64, u64)]| {
            part.iter().map(|p| pick(p) as f64).sum::<f64>() / part.len() as f64
        };
        let (first, last) = (mean(&s[..q]), mean(&s[s.len() - q..]));
        if first > 0.0 {
            (last - first) / first
        } else {
            0.0
        }
    }

    /// Least-squares slope of a figure over the steady samples, bytes per minute.
    fn slope(&self, pick: fn(&(f64, u64, u64)) -> u64) -> f64 {
        let s = self.steady();
        let n = s.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let mx = s.iter().map(|p| p.0).sum::<f64>() / n;
        let my = s.iter().map(|p| pick(p) as f64).sum::<f64>() / n;
        let cov: f64 = s.iter().map(|p| (p.0 - mx) * (pick(p) as f64 - my)).sum();
        let var: f64 = s.iter().map(|p| (p.0 - mx).powi(2)).sum();
        if var == 0.0 { 0.0 } else { cov / var * 60.0 }
    }

    /// RSS change after warm-up (fraction).
    pub fn rss_change(&self) -> f64 {
        self.change(|s| s.1)
    }

    /// Data-dir change after warm-up (fraction).
    pub fn disk_change(&self) -> f64 {
        self.change(|s| s.2)
    }

    /// RSS slope after warm-up, bytes/min.
    pub fn rss_slope(&self) -> f64 {
        self.slope(|s| s.1)
    }

    /// Data-dir slope after warm-up, bytes/min.
    pub fn disk_slope(&self) -> f64 {
        self.slope(|s| s.2)
    }
}

/// Three durable regions at half their keep-up rate for a long while.
#[derive(Clone, Debug)]
pub struct SoakResult {
    /// Storage mode of the nodes.
    pub storage: String,
    /// Offered rate, ops/s over all regions.
    pub offered: f64,
    /// Completed rate, ops/s over all regions.
    pub completed: f64,
    /// Failed requests.
    pub errors: u64,
    /// Length of the run, s.
    pub seconds: f64,
    /// Every node's samples.
    pub nodes: Vec<SoakNode>,
}

/// Another emulator's figures.
#[derive(Clone, Debug)]
pub struct PeerResult {
    /// PutItem.
    pub put: Outcome,
    /// GetItem.
    pub get: Outcome,
}

/// Node memory per key.
#[derive(Clone, Debug)]
pub struct MemoryResult {
    /// Storage mode of the node.
    pub storage: String,
    /// Distinct keys written.
    pub keys: u64,
    /// Items the node reported afterwards.
    pub items: u64,
    /// Key bytes per key.
    pub key_bytes: u64,
    /// Value bytes per key.
    pub value_bytes: u64,
    /// Resident memory before and after, bytes.
    pub rss_before: u64,
    /// See above.
    pub rss_after: u64,
    /// Write rate while filling, ops/s.
    pub write_rate: f64,
}

impl MemoryResult {
    /// Resident bytes added per key.
    pub fn bytes_per_key(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.keys.max(1) as f64
    }

    /// Resident memory per key over its raw key + value bytes.
    pub fn ratio_to_raw(&self) -> f64 {
        self.bytes_per_key() / (self.key_bytes + self.value_bytes).max(1) as f64
    }
}

/// One cell of the matrix.
#[derive(Clone, Debug)]
pub struct MatrixCell {
    /// Mode name.
    pub mode: String,
    /// Every link's one-way latency, ms.
    pub lag_ms: f64,
    /// Key distribution.
    pub dist: String,
    /// Target rate, ops/s.
    pub rate: f64,
    /// Workers per region.
    pub concurrency: usize,
    /// Requests completed per second of the load window (all sent in it, replies may come
    /// after it closed).
    pub throughput: f64,
    /// Write latency over all regions (coordinated-omission corrected), ms.
    pub write_p50_ms: f64,
    /// See above.
    pub write_p99_ms: f64,
    /// Measured conflict rate (checker, from causal contexts).
    pub conflict_rate: f64,
    /// The model's prediction.
    pub predicted_conflict_rate: f64,
    /// Acknowledged writes lost to LWW.
    pub lost_writes: u64,
    /// Largest p99 replication lag over the links, ms.
    pub lag_p99_ms: f64,
    /// Request errors.
    pub errors: u64,
    /// Did the checker pass?
    pub checker_ok: bool,
    /// Violations by kind, when it did not.
    pub checker_detail: String,
}

/// A scenario that could not finish.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Which.
    pub scenario: String,
    /// Why.
    pub error: String,
}

/// Everything one run measured.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// Echo baseline.
    pub echo: Option<Outcome>,
    /// Echo baseline measured again after the node throughput runs (drift check).
    pub echo_repeat: Option<Outcome>,
    /// Single-region puts and gets, per storage mode (the run's own mode first).
    pub single: Vec<SingleResult>,
    /// Three-region Global Tables, per storage mode.
    pub global: Vec<GlobalResult>,
    /// Multi-Region strong consistency against eventual, per storage mode.
    pub strong: Vec<StrongResult>,
    /// Catch-up, per storage mode.
    pub catchup: Vec<CatchupResult>,
    /// Lag fidelity, per storage mode.
    pub fidelity: Vec<FidelityResult>,
    /// Memory, per storage mode (the run's own mode first).
    pub memory: Vec<MemoryResult>,
    /// The matrix, cell by cell.
    pub matrix: Vec<MatrixCell>,
    /// The DynamoDB endpoint, per storage mode.
    pub dynamodb: Vec<DynamoResult>,
    /// The soak, per storage mode.
    pub soak: Vec<SoakResult>,
    /// Scenarios that failed.
    pub failures: Vec<Failure>,
    /// Wall time of the whole run, s.
    pub elapsed_s: f64,
}

impl Results {
    /// The echo baseline's throughput: the mean of its measurements in this run.
    pub fn echo_rate(&self) -> Option<f64> {
        let rates: Vec<f64> = [&self.echo, &self.echo_repeat]
            .into_iter()
            .flatten()
            .map(Outcome::rate)
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    }

    /// `x` as a ratio of the echo baseline's throughput.
    pub fn ratio_to_echo(&self, x: &Outcome) -> Option<f64> {
        self.echo_rate().filter(|e| *e > 0.0).map(|e| x.rate() / e)
    }
}
