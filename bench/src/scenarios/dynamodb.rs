//! The DynamoDB endpoint: PutItem and GetItem throughput of one node over HTTP/1.1 (one
//! keep-alive connection per request in flight, the lean client of `http.rs`), beside the gRPC
//! put path of the same node and dynalite (npm) driven by the same client, all in one run.

use std::net::SocketAddr;

use tonic::Status;

use super::progress;
use crate::{
    driver::{self, Call, KeyPicker, Keys, Outcome, PutCall, Until, closed_loop},
    dynalite::Dynalite,
    http::Connection,
    nodes::{self, REGIONS},
    options::Options,
    results::{DynamoResult, PeerResult},
};
use meridian_core::Mode;

/// The table every run uses.
const TABLE: &str = "bench";
/// Key prefix.
const PREFIX: &str = "ddb-";

/// PutItem or GetItem of one item of `TABLE`.
struct ItemCall {
    conn: Connection,
    picker: KeyPicker,
    value: String,
    put: bool,
}

impl Call for ItemCall {
    async fn call(&mut self, n: u64) -> Result<(), Status> {
        let key = self.picker.key(n);
        let (op, body) = if self.put {
            (
                "PutItem",
                format!(
                    r#"{{"TableName":"{TABLE}","Item":{{"pk":{{"S":"{key}"}},"v":{{"S":"{}"}}}}}}"#,
                    self.value
                ),
            )
        } else {
            (
                "GetItem",
                format!(r#"{{"TableName":"{TABLE}","Key":{{"pk":{{"S":"{key}"}}}}}}"#),
            )
        };
        match self.conn.call(op, body.as_bytes()).await? {
            (200, _) => Ok(()),
            (status, body) => Err(Status::internal(format!(
                "{op}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ))),
        }
    }
}

/// Create the table, fill every key once, then puts and gets for the scenario's duration.
async fn drive(
    opts: &Options,
    addr: SocketAddr,
    region: &str,
) -> anyhow::Result<(Outcome, Outcome)> {
    let mut admin = Connection::new(addr, region);
    let create = format!(
        r#"{{"TableName":"{TABLE}","KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}}],"AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
    );
    let (status, body) = admin.call("CreateTable", create.as_bytes()).await?;
    anyhow::ensure!(
        status == 200,
        "CreateTable: HTTP {status}: {}",
        String::from_utf8_lossy(&body)
    );
    // dynalite creates tables asynchronously: wait until the table is ACTIVE.
    let describe = format!(r#"{{"TableName":"{TABLE}"}}"#);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = admin.call("DescribeTable", describe.as_bytes()).await?;
        if status == 200 && String::from_utf8_lossy(&body).contains(r#""TableStatus":"ACTIVE""#) {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "table {TABLE} not ACTIVE within 20 s: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let make = |put: bool, keys: Keys, stream: u64| ItemCall {
        conn: Connection::new(addr, region),
        picker: KeyPicker::new(PREFIX, keys, opts.seed, stream),
        value: "v".repeat(opts.payload),
        put,
    };
    closed_loop(opts.inflight, Until::Count(opts.keys), |i| {
        make(true, Keys::Sequential, i as u64)
    })
    .await?
    .ensure_no_errors("DynamoDB fill")?;
    let put = closed_loop(opts.inflight, Until::Elapsed(opts.duration), |i| {
        make(true, Keys::Random(opts.keys), i as u64)
    })
    .await?;
    put.ensure_no_errors("PutItem")?;
    let get = closed_loop(opts.inflight, Until::Elapsed(opts.duration), |i| {
        make(false, Keys::Random(opts.keys), 1000 + i as u64)
    })
    .await?;
    get.ensure_no_errors("GetItem")?;
    Ok((put, get))
}

fn report(what: &str, o: &Outcome) {
    progress(format!(
        "  {what}: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms",
        o.rate(),
        o.quantile_ms(0.5),
        o.quantile_ms(0.99)
    ));
}

/// The scenario, for a node keeping its state in `storage`.
pub async fn run(opts: &Options, storage: &str) -> anyhow::Result<DynamoResult> {
    let cfg = nodes::uniform_cluster(Mode::GlobalTables, &REGIONS[..1], 0.0, 0.0)?;
    let cluster = nodes::start_with(opts, &format!("dynamodb-{storage}"), cfg, storage).await?;
    let rec = &cluster.state.nodes[0];
    let endpoint = rec
        .dynamodb
        .ok_or_else(|| anyhow::anyhow!("the node serves no DynamoDB endpoint"))?;
    let (put, get) = drive(opts, endpoint, REGIONS[0]).await?;
    report("PutItem", &put);
    report("GetItem", &get);
    let ch = driver::channel(rec.addr)?;
    let grpc_put = closed_loop(opts.inflight, Until::Elapsed(opts.duration), |i| {
        PutCall::new(
            ch.clone(),
            "grpc/",
            Keys::Random(opts.keys),
            opts.payload,
            opts.seed,
            i as u64,
        )
    })
    .await?;
    report("gRPC put (same node)", &grpc_put);
    drop(cluster);
    let dynalite = match Dynalite::start(&opts.out.join("peers")) {
        Ok(d) => match drive(opts, d.addr, REGIONS[0]).await {
            Ok((put, get)) => {
                report("dynalite PutItem", &put);
                report("dynalite GetItem", &get);
                Ok(PeerResult { put, get })
            }
            Err(e) => Err(format!("dynalite run failed: {e:#}")),
        },
        Err(e) => Err(format!("dynalite not started: {e:#}")),
    };
    if let Err(e) = &dynalite {
        progress(format!("  {e}"));
    }
    Ok(DynamoResult {
        storage: storage.to_owned(),
        put,
        get,
        grpc_put,
        dynalite,
    })
}
