//! One simulated client: draws operations from the workload, sends them on its schedule
//! (open loop, coordinated omission corrected) or back to back (closed loop), follows a
//! moving Aurora writer, and records latencies, writes and read staleness of its own. In a
//! strong cluster it reads strongly (unless told not to), records each strong read for the
//! checker, counts `ReplicatedWriteConflict` answers apart from other errors and retries them
//! when asked (after a backoff), and counts no-quorum refusals (unknown outcomes).

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
    strong::{Refusal, StrongSetup, StrongTally, backoff, classify, is_conflict},
};
use crate::{
    check::history::{ReadRec, Ver, WriteRec, WriteStatus, ctx_from_pb},
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
    /// Multi-Region strong consistency: how reads and conflicts are handled (None: eventual).
    pub strong: Option<Arc<StrongSetup>>,
}

/// Mixed into the workload's seed for the backoff draws (so retries never shift the
/// operations a seed means).
const BACKOFF_SEED: u64 = 0xbac0_ff5e_ed00_0017;

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
    /// Strong-mode figures (zero in an eventual cluster).
    pub strong: StrongTally,
    /// Latency of acknowledged writes, µs (from the intended start, retries included).
    pub acked_write_latency: Histogram<u64>,
    /// Strong reads, for the checker.
    pub strong_reads: Vec<ReadRec>,
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
        strong,
    } = shared;
    let mut rng = Rng::stream(workload.seed, stream);
    let mut backoff_rng = Rng::stream(workload.seed ^ BACKOFF_SEED, stream);
    let consistent = strong.as_ref().is_some_and(|s| s.consistent_reads);
    let retries = strong.as_ref().map_or(0, |s| s.retry_conflicts);
    let backoff_base = strong
        .as_ref()
        .map_or(Duration::ZERO, |s| s.rtt(&rc.region));
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
        strong: StrongTally::default(),
        acked_write_latency: histogram(),
        strong_reads: Vec::new(),
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
            meridian_timer::sleep_until(intended).await;
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
        let mut attempt = 0;
        let result = loop {
            let result = send_following(
                &rc,
                &mut writer,
                &op,
                &workload,
                &latest,
                &mut out,
                give_up,
                consistent,
            )
            .await;
            if !kind.is_write() {
                break result;
            }
            out.strong.write_attempts += 1;
            let Err(status) = &result else { break result };
            match classify(status) {
                Refusal::Conflict { in_region } => {
                    out.strong.conflict_errors += 1;
                    out.strong.conflict_errors_in_region += u64::from(in_region);
                    progress.conflict_errors.fetch_add(1, Ordering::Relaxed);
                    // Nothing was written anywhere: the same write (same id) may go again.
                    if attempt < retries && Instant::now() < give_up {
                        attempt += 1;
                        out.strong.conflict_retries += 1;
                        tokio::time::sleep(backoff(backoff_base, attempt, backoff_rng.f64())).await;
                        continue;
                    }
                    break result;
                }
                Refusal::NoQuorum => {
                    out.strong.no_quorum_writes += 1;
                    break result;
                }
                Refusal::Other => break result,
            }
        };
        let latency_us = intended.elapsed().as_micros() as u64;
        record(
            out.latency.entry(kind).or_insert_with(histogram),
            latency_us,
        );
        if matches!(result, Ok(Some(_))) {
            record(&mut out.acked_write_latency, latency_us);
            out.strong.conflict_recovered += u64::from(attempt > 0);
        }
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

/// Send `op`, following the writer (Aurora Global: a write refused because the writer moved
/// goes again to the new one, until `give_up`).
#[allow(clippy::too_many_arguments)]
async fn send_following(
    rc: &RegionClients,
    writer: &mut Writer,
    op: &Operation,
    workload: &Workload,
    latest: &Latest,
    out: &mut WorkerOut,
    give_up: Instant,
    consistent: bool,
) -> Result<Option<pb::WriteReply>, tonic::Status> {
    loop {
        let result = send(rc, writer, op, workload, latest, out, consistent).await;
        // Follow the writer (Aurora Global): the refused write was not committed.
        let next = match (&result, &rc.follow) {
            (Err(s), Some(f)) if op.kind.is_write() && Instant::now() < give_up => {
                f.after(s, &writer.region)
            }
            _ => None,
        };
        match next {
            Some(Some(primary)) => match rc.follow.as_ref().and_then(|f| f.client(&primary)) {
                Some(c) => {
                    *writer = Writer {
                        client: c,
                        region: primary,
                    };
                }
                None => return result,
            },
            Some(None) => tokio::time::sleep(FOLLOW_RETRY).await,
            None => return result,
        }
    }
}

/// Send `op` once: reads to the region's own node (noting a stale one; `consistent`: a strong
/// read, recorded for the checker), writes to `writer`.
async fn send(
    rc: &RegionClients,
    writer: &Writer,
    op: &Operation,
    workload: &Workload,
    latest: &Latest,
    out: &mut WorkerOut,
    consistent: bool,
) -> Result<Option<pb::WriteReply>, tonic::Status> {
    let (key, id, w) = (op.key.as_str(), op.write_id.as_str(), &writer.client);
    let reply = match op.kind {
        OpKind::Get => {
            let read_start = now_us();
            let r = match rc.local.get_with(key, consistent).await {
                Ok(r) => r,
                Err(e) => {
                    let s = status_of(e);
                    if consistent && classify(&s) == Refusal::NoQuorum {
                        out.strong.no_quorum_reads += 1;
                    }
                    return Err(s);
                }
            };
            let read_end = now_us();
            out.reads += 1;
            let seen = Ver::from_pb(r.version.as_ref());
            if consistent {
                out.strong_reads.push(ReadRec {
                    key: key.to_owned(),
                    region: rc.region.clone(),
                    start_us: read_start,
                    end_us: read_end,
                    write_id: r.write_id.clone(),
                    version: seen.clone(),
                    context: ctx_from_pb(r.context.as_ref()),
                    tombstone: r.tombstone,
                });
            }
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
        // Applied nowhere: a failed write, not an error of the run (counted apart).
        Err(status) if is_conflict(&status) => {
            out.strong.conflict_failed += 1;
            rec(WriteStatus::Failed, None);
        }
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
