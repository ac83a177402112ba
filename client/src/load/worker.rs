//! One simulated client: draws operations from the workload, sends them on its schedule
//! (open loop, coordinated omission corrected) or back to back (closed loop), follows a
//! moving Aurora writer, and records latencies, writes and read staleness of its own.

use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use meridian_core::clock::now_us;
use meridian_proto::v1 as pb;
use tonic::Code;

use super::{
    clients::{FOLLOW_RETRY, RegionClients},
    config::Arrivals,
    live::LiveLoad,
    progress::Progress,
    result::{histogram, record},
    staleness::Latest,
};
use crate::{
    check::history::{Ver, WriteRec, WriteStatus, ctx_from_pb},
    control::client::Condition,
    error::Error,
    workload::{OpKind, Rng, Workload},
};

/// When a worker sends.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Its own rate, ops/s (0: closed loop).
    pub rate: f64,
    /// Open-loop spacing.
    pub arrivals: Arrivals,
    /// When the run began.
    pub begin: Instant,
    /// When it stops sending.
    pub deadline: Instant,
    /// How long one operation may take, following the writer included.
    pub timeout: Duration,
}

/// What every worker shares.
#[derive(Clone)]
pub struct Shared {
    /// What to send.
    pub workload: Arc<Workload>,
    /// The latest acknowledged versions (read staleness).
    pub latest: Arc<Latest>,
    /// Counters for the progress line.
    pub progress: Arc<Progress>,
    /// The live sink a dashboard reads, if any.
    pub live: Option<Arc<LiveLoad>>,
}

/// What one worker hands back.
pub struct WorkerOut {
    /// The region it sat in.
    pub region: String,
    /// Latency per operation kind, µs.
    pub latency: HashMap<OpKind, Histogram<u64>>,
    /// Every write it sent.
    pub writes: Vec<WriteRec>,
    /// Errors by gRPC code name.
    pub errors: HashMap<String, u64>,
    /// Conditional writes refused by their condition.
    pub condition_failed: u64,
    /// Operations completed.
    pub ops: u64,
    /// Reads completed.
    pub reads: u64,
    /// Stale reads.
    pub stale: u64,
    /// How stale, µs.
    pub staleness: Histogram<u64>,
    /// Increments acknowledged.
    pub increments: i64,
}

/// Is a failed write's outcome unknown (it may have been committed)?
fn outcome_unknown(code: Code) -> bool {
    matches!(
        code,
        Code::DeadlineExceeded
            | Code::Unavailable
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal
    )
}

/// The status of a failed call (every call error of a connected client is one).
fn status_of(e: Error) -> tonic::Status {
    match e {
        Error::Rpc(s) => s,
        other => tonic::Status::unknown(other.to_string()),
    }
}

/// One operation drawn from the workload.
struct Operation {
    kind: OpKind,
    key: String,
    /// Names the value (`w/REGION/STREAM/N`).
    token: String,
    /// The id the client gives a write (empty for reads).
    write_id: String,
    /// The intended start, µs since the Unix epoch.
    start_us: u64,
}

/// The writer a worker sends its writes to (it moves when it follows an Aurora writer).
struct Writer {
    client: crate::control::client::RegionClient,
    region: String,
}

/// One simulated client: send on the schedule until the deadline; hand back what it saw.
pub async fn worker(rc: RegionClients, stream: u64, when: Schedule, shared: Shared) -> WorkerOut {
    let Shared {
        workload,
        latest,
        progress,
        live,
    } = shared;
    let mut rng = Rng::stream(workload.seed, stream);
    let mut out = WorkerOut {
        region: rc.region.clone(),
        latency: HashMap::new(),
        writes: Vec::new(),
        errors: HashMap::new(),
        condition_failed: 0,
        ops: 0,
        reads: 0,
        stale: 0,
        staleness: histogram(),
        increments: 0,
    };
    let mut writer = Writer {
        client: rc.writer.clone(),
        region: rc.writer_region.clone(),
    };
    let rate = when.rate;
    let open_loop = rate > 0.0;
    // Stagger the first arrival so workers do not start in lockstep. Poisson: the first gap is
    // exponential too (a uniform one over one mean gap would add half an arrival per worker).
    let first_gap = match (open_loop, when.arrivals) {
        (false, _) => 0.0,
        (true, Arrivals::Poisson) => rng.exponential(1.0 / rate),
        (true, Arrivals::Uniform) => rng.f64() / rate,
    };
    let mut intended = when.begin + Duration::from_secs_f64(first_gap);
    let mut n = 0u64;
    loop {
        if open_loop {
            if intended >= when.deadline {
                break;
            }
            tokio::time::sleep_until(intended.into()).await;
        } else {
            intended = Instant::now();
            if intended >= when.deadline {
                break;
            }
        }
        let drawn = workload.next_op(&mut rng);
        n += 1;
        let kind = drawn.kind;
        let op = Operation {
            kind,
            key: if kind == OpKind::Incr {
                workload.counter(drawn.rank)
            } else {
                drawn.key
            },
            token: format!("w/{}/{stream}/{n}", rc.region),
            // The client names each write, so that one whose reply is lost can be looked up in
            // the origin's log after the run (resolving the unknown outcome). Reads need no id.
            write_id: if kind.is_write() {
                uuid::Uuid::new_v4().to_string()
            } else {
                String::new()
            },
            start_us: now_us().saturating_sub(intended.elapsed().as_micros() as u64),
        };
        let give_up = Instant::now() + when.timeout;
        let result = loop {
            let result = send(&rc, &writer, &op, &workload, &latest, &mut out).await;
            // Follow the writer (Aurora Global): the refused write was not committed.
            let next = match (&result, &rc.follow) {
                (Err(s), Some(f)) if kind.is_write() && Instant::now() < give_up => {
                    f.after(s, &writer.region)
                }
                _ => None,
            };
            match next {
                Some(Some(primary)) => match rc.follow.as_ref().and_then(|f| f.client(&primary)) {
                    Some(c) => {
                        writer = Writer {
                            client: c,
                            region: primary,
                        };
                    }
                    None => break result,
                },
                Some(None) => tokio::time::sleep(FOLLOW_RETRY).await,
                None => break result,
            }
        };
        let latency_us = intended.elapsed().as_micros() as u64;
        record(
            out.latency.entry(kind).or_insert_with(histogram),
            latency_us,
        );
        out.ops += 1;
        progress.ops.fetch_add(1, Ordering::Relaxed);
        if let Some(live) = &live {
            live.record(&rc.region, kind, latency_us, result.is_ok());
        }
        tally(&rc.region, &op, result, &latest, &progress, &mut out);
        if open_loop {
            let gap = match when.arrivals {
                Arrivals::Poisson => rng.exponential(1.0 / rate),
                Arrivals::Uniform => 1.0 / rate,
            };
            intended += Duration::from_secs_f64(gap);
        }
    }
    out
}

/// Send `op` once: reads to the region's own node (noting a stale one), writes to `writer`.
async fn send(
    rc: &RegionClients,
    writer: &Writer,
    op: &Operation,
    workload: &Workload,
    latest: &Latest,
    out: &mut WorkerOut,
) -> Result<Option<pb::WriteReply>, tonic::Status> {
    let (key, id, w) = (op.key.as_str(), op.write_id.as_str(), &writer.client);
    let reply = match op.kind {
        OpKind::Get => {
            let read_start = now_us();
            let r = rc.local.get(key).await.map_err(status_of)?;
            out.reads += 1;
            let seen = Ver::from_pb(r.version.as_ref());
            if let Some(age) = latest.staleness(key, &seen, read_start) {
                out.stale += 1;
                record(&mut out.staleness, age);
            }
            return Ok(None);
        }
        OpKind::Put => w.put(key, workload.value(&op.token), None, id).await,
        OpKind::CondPut => {
            let value = workload.value(&op.token);
            w.put(key, value, Some(Condition::IfAbsent), id).await
        }
        OpKind::Delete => w.delete(key, None, id).await,
        OpKind::Incr => w.increment(key, 1, id).await,
    };
    reply.map(Some).map_err(status_of)
}

/// Count what came back, and record the write (acknowledged, refused, or of unknown outcome).
fn tally(
    region: &str,
    op: &Operation,
    result: Result<Option<pb::WriteReply>, tonic::Status>,
    latest: &Latest,
    progress: &Progress,
    out: &mut WorkerOut,
) {
    let kind = op.kind;
    let mut rec = |status: WriteStatus, reply: Option<&pb::WriteReply>| {
        if !kind.is_write() {
            return;
        }
        out.writes.push(WriteRec {
            key: op.key.clone(),
            op: kind,
            client_region: region.to_owned(),
            status,
            write_id: reply.map_or_else(|| op.write_id.clone(), |r| r.write_id.clone()),
            version: reply.map(|r| Ver::from_pb(r.version.as_ref())),
            context: ctx_from_pb(reply.and_then(|r| r.context.as_ref())),
            tombstone: kind == OpKind::Delete,
            start_us: op.start_us,
            ack_us: if reply.is_some() { now_us() } else { 0 },
        });
    };
    match result {
        Ok(Some(reply)) => {
            rec(WriteStatus::Acked, Some(&reply));
            latest.acked(&op.key, Ver::from_pb(reply.version.as_ref()), now_us());
            if kind == OpKind::Incr {
                out.increments += 1;
            }
        }
        Ok(None) => {}
        Err(status)
            if status.code() == Code::FailedPrecondition
                && matches!(kind, OpKind::CondPut | OpKind::Incr)
                && status.message().starts_with("condition failed") =>
        {
            out.condition_failed += 1;
            rec(WriteStatus::Failed, None);
        }
        Err(status) => {
            *out.errors
                .entry(format!("{:?}", status.code()))
                .or_default() += 1;
            progress.errors.fetch_add(1, Ordering::Relaxed);
            rec(
                if outcome_unknown(status.code()) {
                    WriteStatus::Unknown
                } else {
                    WriteStatus::Failed
                },
                None,
            );
        }
    }
}
