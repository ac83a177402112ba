//! The echo baseline and single-region put / get throughput: the same closed-loop driver,
//! channel settings, payload and number of requests in flight against a raw echo process and
//! against a one-region node, so that their ratio is the node's overhead.

use meridian_core::Mode;

use super::progress;
use crate::{
    driver::{self, EchoCall, GetCall, Keys, Outcome, PutCall, Until, closed_loop},
    echo::EchoProcess,
    nodes::{self, REGIONS},
    options::Options,
    results::SingleResult,
};

/// Key prefix of the single-region runs.
const PREFIX: &str = "single/";

fn report(what: &str, o: &Outcome) {
    progress(format!(
        "  {what}: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        o.rate(),
        o.quantile_ms(0.5),
        o.quantile_ms(0.99),
        o.errors
    ));
}

/// Echo calls at `inflight` in flight for the scenario duration (after a warm-up).
pub async fn echo(opts: &Options) -> anyhow::Result<Outcome> {
    let server = EchoProcess::start(&opts.bench_exe, opts.node_workers)?;
    let ch = driver::channel(server.addr)?;
    let make = |_| EchoCall::new(ch.clone(), opts.payload);
    closed_loop(opts.inflight, Until::Elapsed(opts.warmup), &make).await?;
    let out = closed_loop(opts.inflight, Until::Elapsed(opts.duration), &make).await?;
    report("echo", &out);
    drop(server);
    Ok(out)
}

/// Puts, then gets, against a one-region cluster whose node keeps its state in `storage`.
/// Every key is written once first (which is also the warm-up), so the gets find their keys.
pub async fn single_region(opts: &Options, storage: &str) -> anyhow::Result<SingleResult> {
    let cfg = nodes::uniform_cluster(Mode::GlobalTables, &REGIONS[..1], 0.0, 0.0)?;
    let cluster = nodes::start_with(opts, &format!("single-{storage}"), cfg, storage).await?;
    let (addr, _) = nodes::node(&cluster, REGIONS[0])?;
    let ch = driver::channel(addr)?;
    driver::write_sequential(
        &ch,
        PREFIX,
        opts.keys,
        opts.inflight,
        opts.payload,
        opts.seed,
    )
    .await?
    .ensure_no_errors("single-region fill")?;
    let put = closed_loop(opts.inflight, Until::Elapsed(opts.duration), |i| {
        PutCall::new(
            ch.clone(),
            PREFIX,
            Keys::Random(opts.keys),
            opts.payload,
            opts.seed,
            i as u64,
        )
    })
    .await?;
    report("put", &put);
    let get = closed_loop(opts.inflight, Until::Elapsed(opts.duration), |i| {
        GetCall::new(
            ch.clone(),
            PREFIX,
            Keys::Random(opts.keys),
            opts.seed,
            1000 + i as u64,
        )
    })
    .await?;
    report("get", &get);
    drop(cluster);
    Ok(SingleResult {
        storage: storage.to_owned(),
        put,
        get,
    })
}
