//! The closed-loop driver every throughput figure uses, and the calls it makes.
//!
//! `inflight` tasks share one channel (one HTTP/2 connection, as a [`RegionClient`] has) and
//! each sends its next request as soon as the previous one answers, so exactly `inflight`
//! requests are outstanding. Latency is measured from each send (closed loop: there is no
//! intended start to correct for). Each task keeps its own histogram; they are merged at the
//! end, so nothing is shared on the hot path but the channel itself.
//!
//! The same tasks can also be paced ([`paced_loop`]): each follows an evenly spaced schedule
//! so that together they offer a fixed rate, and latency is measured from each request's
//! intended start (coordinated omission corrected), so a server that falls behind shows it.
//! The pacing sleeps on `meridian_timer` (tens of µs late, on a 100 µs grid), not on
//! tokio's 1 ms timer, whose lateness would otherwise be counted as the server's.
//!
//! The echo baseline and the node calls go through the same [`channel`] builder, the same
//! driver and the same payload, so their ratio isolates what the node adds.
//!
//! [`RegionClient`]: meridian_client::control::RegionClient

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use meridian_client::{load::histogram, workload::Rng};
use meridian_proto::{
    bench::v1::{EchoRequest, echo_client::EchoClient},
    v1::{GetRequest, PutRequest, kv_client::KvClient},
};
use tonic::{
    Status,
    transport::{Channel, Endpoint},
};

/// A lazily connected channel to `addr`, with the settings of the Meridian client.
pub fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy())
}

/// One kind of request the driver sends.
pub trait Call: Send + 'static {
    /// Send request number `n` (per task in timed runs, global in counted runs).
    fn call(&mut self, n: u64) -> impl Future<Output = Result<(), Status>> + Send;
}

/// When a run stops.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// After this many requests in total (numbered 0..n across all tasks).
    Count(u64),
}

/// What a closed-loop run measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Requests completed (including errors).
    pub calls: u64,
    /// Requests that failed.
    pub errors: u64,
    /// The first error, for the report.
    pub first_error: Option<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of every request, µs.
    pub latency: Histogram<u64>,
}

impl Outcome {
    /// Completed requests per second.
    pub fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency quantile, ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// Several runs that went on at the same time, as one (calls summed, the longest time).
    pub fn merge(parts: &[Outcome]) -> Outcome {
        let mut latency = histogram();
        for p in parts {
            let _ = latency.add(&p.latency);
        }
        Outcome {
            calls: parts.iter().map(|p| p.calls).sum(),
            errors: parts.iter().map(|p| p.errors).sum(),
            first_error: parts.iter().find_map(|p| p.first_error.clone()),
            elapsed: parts
                .iter()
                .map(|p| p.elapsed)
                .max()
                .unwrap_or(Duration::ZERO),
            latency,
        }
    }
}

impl Outcome {
    /// `Err` naming `what` when any request failed.
    pub fn ensure_no_errors(&self, what: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.errors == 0,
            "{what}: {} of {} puts failed: {}",
            self.errors,
            self.calls,
            self.first_error.clone().unwrap_or_default()
        );
        Ok(())
    }
}

/// Run `inflight` closed-loop tasks, task `i` sending through `make(i)`, until `until`.
pub async fn closed_loop<C: Call>(
    inflight: usize,
    until: Until,
    make: impl Fn(usize) -> C,
) -> anyhow::Result<Outcome> {
    drive(inflight, until, None, make).await
}

/// Write `count` sequential keys under `prefix` as fast as `inflight` closed-loop tasks go.
pub async fn write_sequential(
    channel: &Channel,
    prefix: &str,
    count: u64,
    inflight: usize,
    value_size: usize,
    seed: u64,
) -> anyhow::Result<Outcome> {
    closed_loop(inflight, Until::Count(count), |i| {
        PutCall::new(
            channel.clone(),
            prefix,
            Keys::Sequential,
            value_size,
            seed,
            i as u64,
        )
    })
    .await
}

/// Run `inflight` tasks that together offer `rate` requests/s (evenly spaced, staggered),
/// latency from each request's intended start, until `until`.
pub async fn paced_loop<C: Call>(
    inflight: usize,
    until: Until,
    rate: f64,
    make: impl Fn(usize) -> C,
) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        rate > 0.0 && rate.is_finite(),
        "a paced loop needs a positive rate"
    );
    drive(inflight, until, Some(rate), make).await
}

async fn drive<C: Call>(
    inflight: usize,
    until: Until,
    rate: Option<f64>,
    make: impl Fn(usize) -> C,
) -> anyhow::Result<Outcome> {
    let inflight = inflight.max(1);
    let tickets = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    // Each task's gap between intended starts, when paced.
    let gap = rate.map(|r| Duration::from_secs_f64(inflight as f64 / r));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..inflight {
        let mut call = make(i);
        let tickets = tickets.clone();
        let mut intended =
            begin + gap.map_or(Duration::ZERO, |g| g.mul_f64(i as f64 / inflight as f64));
        tasks.spawn(async move {
            let mut h = histogram();
            let (mut calls, mut errors, mut first_error) = (0u64, 0u64, None);
            loop {
                if gap.is_none() {
                    intended = Instant::now();
                }
                let n = match until {
                    Until::Elapsed(d) => {
                        if intended.duration_since(begin) >= d {
                            break;
                        }
                        calls
                    }
                    Until::Count(total) => {
                        let t = tickets.fetch_add(1, Ordering::Relaxed);
                        if t >= total {
                            break;
                        }
                        t
                    }
                };
                if gap.is_some() {
                    meridian_timer::sleep_until(intended).await;
                }
                let result = call.call(n).await;
                let _ = h.record((intended.elapsed().as_micros() as u64).clamp(1, h.high()));
                calls += 1;
                if let Err(e) = result {
                    errors += 1;
                    first_error.get_or_insert_with(|| format!("{:?}: {}", e.code(), e.message()));
                }
                if let Some(g) = gap {
                    intended += g;
                }
            }
            (h, calls, errors, first_error)
        });
    }
    let mut parts = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (latency, calls, errors, first_error) = r?;
        parts.push(Outcome {
            calls,
            errors,
            first_error,
            elapsed: Duration::ZERO,
            latency,
        });
    }
    let mut out = Outcome::merge(&parts);
    out.elapsed = begin.elapsed();
    Ok(out)
}

/// An echo of a fixed payload.
pub struct EchoCall {
    client: EchoClient<Channel>,
    payload: Vec<u8>,
}

impl EchoCall {
    /// Echo `payload_size` bytes over `channel`.
    pub fn new(channel: Channel, payload_size: usize) -> Self {
        Self {
            client: EchoClient::new(channel),
            payload: vec![b'x'; payload_size],
        }
    }
}

impl Call for EchoCall {
    async fn call(&mut self, _n: u64) -> Result<(), Status> {
        let req = EchoRequest {
            payload: self.payload.clone(),
        };
        self.client.echo(req).await.map(drop)
    }
}

/// Which key a put or get uses.
#[derive(Clone, Debug)]
pub enum Keys {
    /// A uniformly random one of this many.
    Random(u64),
    /// The key numbered by the request (counted runs: every key once).
    Sequential,
}

/// Key names and their choice.
#[derive(Clone, Debug)]
pub struct KeyPicker {
    prefix: String,
    keys: Keys,
    rng: Rng,
}

impl KeyPicker {
    /// Keys under `prefix`, chosen as `keys` says; `stream` seeds the task's choice.
    pub fn new(prefix: &str, keys: Keys, seed: u64, stream: u64) -> Self {
        Self {
            prefix: prefix.to_owned(),
            keys,
            rng: Rng::stream(seed, stream),
        }
    }

    /// The key of request `n`.
    pub fn key(&mut self, n: u64) -> String {
        match self.keys {
            Keys::Random(k) => format!("{}{:010}", self.prefix, self.rng.below(k)),
            Keys::Sequential => format!("{}{n:010}", self.prefix),
        }
    }
}

/// The name of key number `k` under `prefix` (as puts and gets make it).
pub fn key_name(prefix: &str, k: u64) -> String {
    format!("{prefix}{k:010}")
}

/// A put of a fixed-size value.
pub struct PutCall {
    kv: KvClient<Channel>,
    picker: KeyPicker,
    value: Vec<u8>,
}

impl PutCall {
    /// Puts under `prefix` over `channel`; `stream` seeds the task's key choice.
    pub fn new(
        channel: Channel,
        prefix: &str,
        keys: Keys,
        value_size: usize,
        seed: u64,
        stream: u64,
    ) -> Self {
        Self {
            kv: KvClient::new(channel),
            picker: KeyPicker {
                prefix: prefix.to_owned(),
                keys,
                rng: Rng::stream(seed, stream),
            },
            value: vec![b'v'; value_size],
        }
    }
}

impl Call for PutCall {
    async fn call(&mut self, n: u64) -> Result<(), Status> {
        let req = PutRequest {
            key: self.picker.key(n),
            value: self.value.clone(),
            ..Default::default()
        };
        self.kv.put(req).await.map(drop)
    }
}

/// A get (a miss counts as a success: it is still a full request).
pub struct GetCall {
    kv: KvClient<Channel>,
    picker: KeyPicker,
}

impl GetCall {
    /// Gets under `prefix` over `channel`; `stream` seeds the task's key choice.
    pub fn new(channel: Channel, prefix: &str, keys: Keys, seed: u64, stream: u64) -> Self {
        Self {
            kv: KvClient::new(channel),
            picker: KeyPicker {
                prefix: prefix.to_owned(),
                keys,
                rng: Rng::stream(seed, stream),
            },
        }
    }
}

impl Call for GetCall {
    async fn call(&mut self, n: u64) -> Result<(), Status> {
        let req = GetRequest {
            key: self.picker.key(n),
            consistent_read: false,
        };
        self.kv.get(req).await.map(drop)
    }
}
