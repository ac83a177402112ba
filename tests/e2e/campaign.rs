//! A seeded hostile-input campaign against a real node, bounded for CI: typed hostile values
//! over the Kv and Admin services, raw protobuf mutations of valid requests, and mutated
//! cluster files. After each batch the node must answer, and what it refused must have changed
//! nothing: no key it did not accept exists, and the link table is as it was.
//! `MERIDIAN_CAMPAIGN_INPUTS` sets the number of inputs (default 2000), `MERIDIAN_CAMPAIGN_SEED`
//! the seed.

use std::collections::HashSet;

use meridian_proto::v1::{self as pb, admin_client::AdminClient, kv_client::KvClient};
use prost::Message;
use tonic::{Code, Request, transport::Channel};

use crate::support::{Cluster, Spec, code, runtime};

/// The campaign's only randomness (the workloads' seeded generator, one stream per use), so a
/// seed replays a run.
struct Rng(meridian_client::workload::Rng);

impl Rng {
    fn stream(seed: u64, stream: u64) -> Self {
        Self(meridian_client::workload::Rng::stream(seed, stream))
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// A hostile string: empty, huge, control characters, NULs, non-ASCII, quotes.
    fn hostile_text(&mut self) -> String {
        let len = *self.pick(&[0usize, 1, 7, 64, 2048, 2049, 5000]);
        let alphabet = [
            'a', 'Z', '0', '\0', '\n', '\t', '"', '\\', 'é', '鍵', '🦀', '/', ' ',
        ];
        (0..len).map(|_| *self.pick(&alphabet)).collect()
    }
    fn hostile_f64(&mut self) -> f64 {
        *self.pick(&[
            f64::NAN,
            f64::INFINITY,
            -1.0,
            -0.5,
            1e300,
            60_001.0,
            f64::MIN,
        ])
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn raw_put(channel: Channel, body: Vec<u8>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let r = grpc
        .unary::<Vec<u8>, Vec<u8>, _>(
            Request::new(body),
            tonic::codegen::http::uri::PathAndQuery::from_static("/meridian.v1.Kv/Put"),
            crate::hostile::raw::Raw,
        )
        .await;
    code(r)
}

#[test]
fn a_seeded_hostile_campaign_leaves_the_node_serving_and_refusals_change_nothing() {
    let inputs = env_u64("MERIDIAN_CAMPAIGN_INPUTS", 2000);
    let seed = env_u64("MERIDIAN_CAMPAIGN_SEED", 0x5eed);
    let mut rng = Rng::stream(seed, 0);

    // Cluster files: mutated text parses or is refused with a located message, never a panic.
    let base = meridian_core::config::DEFAULT_CLUSTER_TOML;
    for _ in 0..inputs {
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..=rng.below(4) {
            let at = rng.below(text.len() as u64) as usize;
            match rng.below(3) {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(
                    at,
                    *rng.pick(&['"', '[', ']', '=', '\n', '9', '-', 'x', '.']),
                ),
                _ => text[at] = *rng.pick(&['0', '"', ' ', '\n', 'z']),
            }
        }
        let text: String = text.into_iter().collect();
        if let Err(e) = meridian_core::config::ClusterConfig::parse(&text, "f.toml") {
            assert!(e.to_string().starts_with("f.toml"), "{e}");
        }
    }

    let c = Cluster::start("campaign-hostile", Spec::new(&["a", "b"], 5.0));
    runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut kv = KvClient::new(ch.clone()).max_encoding_message_size(8 << 20);
        let mut admin = AdminClient::new(ch.clone());
        let links_before = admin.links(pb::LinksRequest {}).await.unwrap().into_inner().links;
        let mut accepted: HashSet<String> = HashSet::new();
        let mut raw_accepted = 0usize;
        let mut counts = [0usize; 5];
        let batch = 100;
        for start in (0..inputs).step_by(batch) {
            for n in start..(start + batch as u64).min(inputs) {
                match rng.below(5) {
                    0 => {
                        // A put with a hostile key and value size.
                        let key = format!("c/{n}/{}", rng.hostile_text());
                        let size = *rng.pick(&[0usize, 10, 409_600, 409_601]);
                        let got = code(
                            kv.put(pb::PutRequest {
                                key: key.clone(),
                                value: vec![b'v'; size],
                                ..Default::default()
                            })
                            .await,
                        );
                        let valid = key.len() <= 2048 && size <= 409_600;
                        let want = if valid { Code::Ok } else { Code::InvalidArgument };
                        assert_eq!(got, want, "put of a {}-byte key, {size}-byte value", key.len());
                        if got == Code::Ok {
                            accepted.insert(key);
                        }
                        counts[0] += 1;
                    }
                    1 => {
                        // A link change that is always wrong somewhere.
                        let from = rng.pick(&["a", "b", "mars", ""]).to_string();
                        let to = rng.pick(&["a", "b", "x".repeat(300).as_str()]).to_string();
                        let bad = rng.hostile_f64();
                        let got = code(
                            admin
                                .set_link(pb::SetLinkRequest {
                                    from: from.clone(),
                                    to: to.clone(),
                                    latency_ms: bad,
                                    jitter_ms: if rng.below(2) == 0 { bad } else { 1.0 },
                                    loss: 0.0,
                                    both_ways: rng.below(2) == 0,
                                    local_only: false,
                                })
                                .await,
                        );
                        assert_eq!(got, Code::InvalidArgument, "set_link {from:?} -> {to:?} at {bad}");
                        counts[1] += 1;
                    }
                    2 => {
                        // A valid put's bytes with a few of them changed.
                        let mut body = pb::PutRequest {
                            key: format!("c/raw/{n}"),
                            value: b"value".to_vec(),
                            ..Default::default()
                        }
                        .encode_to_vec();
                        for _ in 0..=rng.below(3) {
                            let at = rng.below(body.len() as u64) as usize;
                            body[at] = rng.next() as u8;
                        }
                        let got = raw_put(ch.clone(), body).await;
                        assert!(
                            matches!(got, Code::Ok | Code::InvalidArgument | Code::Internal),
                            "raw put answered {got:?}"
                        );
                        raw_accepted += usize::from(got == Code::Ok);
                        counts[2] += 1;
                    }
                    3 => {
                        let key = rng.hostile_text();
                        let got = code(kv.get(pb::GetRequest {
                key: key.clone(),
                ..Default::default()
            }).await);
                        let valid = !key.is_empty() && key.len() <= 2048;
                        assert_eq!(got, if valid { Code::Ok } else { Code::InvalidArgument });
                        counts[3] += 1;
                    }
                    _ => {
                        // Cursors at the edges of the range.
                        let after = *rng.pick(&[0, 1, u64::MAX / 2, u64::MAX]);
                        let limit = *rng.pick(&[0u32, 1, u32::MAX]);
                        let feed = pb::ConflictsRequest { after, limit, incarnation: rng.hostile_text() };
                        assert_eq!(code(admin.conflicts(feed).await), Code::Ok);
                        let log = pb::LogRequest { after_seq: after, up_to_seq: *rng.pick(&[0, 1, u64::MAX]) };
                        assert_eq!(code(admin.log(log).await), Code::Ok);
                        counts[4] += 1;
                    }
                }
            }
            // After each batch: still serving, and refusals changed nothing.
            admin.status(pb::StatusRequest {}).await.expect("the node answers");
            let links = admin.links(pb::LinksRequest {}).await.unwrap().into_inner().links;
            assert_eq!(links, links_before, "a refused link change altered the table");
            let mut dump = admin.dump(pb::DumpRequest {}).await.unwrap().into_inner();
            let mut unknown = 0;
            while let Some(chunk) = dump.message().await.unwrap() {
                unknown += chunk.items.iter().filter(|w| !accepted.contains(&w.key)).count();
            }
            assert!(
                unknown <= raw_accepted,
                "{unknown} keys exist that no accepted request wrote ({raw_accepted} mutated puts were accepted)"
            );
        }
        assert!(counts.iter().all(|n| *n > 0), "every kind of input was tried: {counts:?}");
    });
}

type ChunkStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<pb::SnapshotChunk, tonic::Status>> + Send>,
>;

/// A fake origin: region b's address serves a Pull that sends one valid write and then, on
/// every (re)connection, one seeded hostile record. Everything else is unimplemented.
struct FakeOrigin {
    seed: u64,
    rounds: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn record(seq: u64, key: &str, ts: u64, region: &str, ctx: &[(&str, u64)]) -> pb::WriteRecord {
    pb::WriteRecord {
        seq,
        key: key.into(),
        value: b"v".to_vec(),
        tombstone: false,
        version: Some(pb::Version {
            timestamp: ts,
            logical: 0,
            region: region.into(),
            ..Default::default()
        }),
        write_id: uuid::Uuid::from_u128(u128::from(seq) << 64 | u128::from(ts)).to_string(),
        context: Some(pb::CausalContext {
            entries: ctx.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
            ..Default::default()
        }),
        commit_time_us: ts,
        epoch: 0,
    }
}

#[tonic::async_trait]
impl pb::replication_server::Replication for FakeOrigin {
    type PullStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::ReplBatch, tonic::Status>> + Send>,
    >;
    type SnapshotStream = ChunkStream;
    type ItemsStream = ChunkStream;
    type StrongStateStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::StrongStateChunk, tonic::Status>> + Send>,
    >;

    async fn pull(
        &self,
        req: Request<tonic::Streaming<pb::PullRequest>>,
    ) -> Result<tonic::Response<Self::PullStream>, tonic::Status> {
        let mut inbound = req.into_inner();
        let open = inbound.message().await?.unwrap_or_default();
        let round = self
            .rounds
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut rng = Rng::stream(self.seed, 1 + round);
        let now = meridian_core::clock::now_us();
        let next = open.after_seq + 1;
        let hostile = match rng.below(6) {
            0 => record(
                next,
                &format!("h/{round}"),
                now,
                "b",
                &[("b", next), ("a", u64::MAX)],
            ),
            1 => record(
                next,
                &format!("h/{round}"),
                now + 10 * 365 * 86_400_000_000,
                "b",
                &[("b", next)],
            ),
            2 => record(next, &format!("h/{round}"), u64::MAX, "b", &[("b", next)]),
            3 => record(next, &format!("h/{round}"), now, "a", &[("a", 1)]),
            4 => record(
                next,
                &format!("h/{round}"),
                now,
                "b",
                &[("b", next), ("mars", 1)],
            ),
            _ => pb::WriteRecord {
                version: None,
                ..record(next, &format!("h/{round}"), now, "b", &[("b", next)])
            },
        };
        let mut batches = Vec::new();
        if open.after_seq == 0 {
            batches.push(pb::ReplBatch {
                origin: "b".into(),
                writes: vec![record(1, "valid", now, "b", &[("b", 1)])],
                head_seq: 2,
                incarnation: "fake".into(),
                reset: false,
            });
        }
        let hostile_seq = if open.after_seq == 0 { 2 } else { next };
        batches.push(pb::ReplBatch {
            origin: "b".into(),
            writes: vec![pb::WriteRecord {
                seq: hostile_seq,
                ..hostile
            }],
            head_seq: hostile_seq,
            incarnation: "fake".into(),
            reset: false,
        });
        let stream = tokio_stream::StreamExt::chain(
            tokio_stream::iter(batches.into_iter().map(Ok)),
            tokio_stream::pending(),
        );
        Ok(tonic::Response::new(Box::pin(stream)))
    }
    async fn head(
        &self,
        _: Request<pb::HeadRequest>,
    ) -> Result<tonic::Response<pb::HeadReply>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn digest(
        &self,
        _: Request<pb::DigestRequest>,
    ) -> Result<tonic::Response<pb::DigestReply>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn strong(
        &self,
        _: Request<tonic::Streaming<pb::StrongBatch>>,
    ) -> Result<tonic::Response<pb::StrongAck>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn strong_state(
        &self,
        _: Request<pb::StrongStateRequest>,
    ) -> Result<tonic::Response<Self::StrongStateStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn items(
        &self,
        _: Request<pb::ItemsRequest>,
    ) -> Result<tonic::Response<Self::ItemsStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn snapshot(
        &self,
        _: Request<pb::SnapshotRequest>,
    ) -> Result<tonic::Response<Self::SnapshotStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn tombstones(
        &self,
        _: Request<pb::TombstonesRequest>,
    ) -> Result<tonic::Response<pb::TombstonesReply>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
}

/// Forged peer batches: node a pulls from a fake b that sends, on every connection, a seeded
/// hostile record (a counter at u64::MAX, a timestamp years ahead or at the top of the clock,
/// a write claiming a as origin, an unknown region, no version) after one valid write. a
/// refuses each loudly, applies nothing of them, keeps serving, and its own next write carries
/// a sane context.
#[test]
fn forged_peer_batches_are_refused_loudly_and_change_nothing() {
    let rounds_wanted = env_u64("MERIDIAN_CAMPAIGN_PEER_ROUNDS", 8);
    let dir = crate::support::scratch_dir("campaign-peer");
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_addr = fake.local_addr().unwrap();
    let a_port = crate::support::free_port();
    let file = dir.join("cluster.toml");
    std::fs::write(
        &file,
        format!(
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:{a_port}\"\n[[region]]\nname = \"b\"\nlisten = \"{fake_addr}\"\n[default_link]\nlatency_ms = 1\n"
        ),
    )
    .unwrap();
    let rounds = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = {
        let rounds = rounds.clone();
        fake.set_nonblocking(true).unwrap();
        let listener = rt.block_on(async { tokio::net::TcpListener::from_std(fake).unwrap() });
        rt.spawn(
            tonic::transport::Server::builder()
                .add_service(pb::replication_server::ReplicationServer::new(FakeOrigin {
                    seed: env_u64("MERIDIAN_CAMPAIGN_SEED", 0x5eed),
                    rounds,
                }))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        )
    };
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut node = Kill(
        std::process::Command::new(crate::support::BIN)
            .args(["node", "--region", "a", "--storage", "memory", "--cluster"])
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(node.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("serving on"), "{line}");
    let url = format!("http://127.0.0.1:{a_port}");
    rt.block_on(async {
        let ch = Channel::from_shared(url).unwrap().connect().await.unwrap();
        let mut admin = AdminClient::new(ch.clone());
        let mut kv = KvClient::new(ch);
        let link = |s: &pb::NodeStatus| s.links.iter().find(|l| l.origin == "b").cloned().unwrap();
        let deadline = std::time::Instant::now() + crate::support::DEADLINE;
        loop {
            let s = admin
                .status(pb::StatusRequest {})
                .await
                .expect("a answers")
                .into_inner();
            if rounds.load(std::sync::atomic::Ordering::SeqCst) >= rounds_wanted
                && link(&s).refused_writes + 1 >= rounds_wanted
            {
                let l = link(&s);
                assert!(
                    !l.stuck_reason.is_empty(),
                    "the link says why it is stuck: {l:?}"
                );
                assert_eq!(
                    l.applied_seq, 1,
                    "the valid write was applied, nothing after it"
                );
                break;
            }
            assert!(std::time::Instant::now() < deadline, "timed out: {s:?}");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let mut dump = admin.dump(pb::DumpRequest {}).await.unwrap().into_inner();
        let mut keys = Vec::new();
        while let Some(chunk) = dump.message().await.unwrap() {
            keys.extend(chunk.items.into_iter().map(|w| w.key));
        }
        assert_eq!(keys, vec!["valid".to_owned()], "no hostile record landed");
        let w = kv
            .put(pb::PutRequest {
                key: "valid".into(),
                value: b"mine".to_vec(),
                ..Default::default()
            })
            .await
            .expect("a still writes")
            .into_inner();
        let ctx = w.context.unwrap().entries;
        assert_eq!(ctx.get("b"), Some(&1), "{ctx:?}");
        assert!(ctx["a"] < u64::MAX / 2, "a's own dot is sane: {ctx:?}");
        let version = w.version.unwrap();
        assert!(
            version.timestamp < meridian_core::clock::now_us() + 1_000_000,
            "a's clock was not dragged ahead: {version:?}"
        );
    });
    server.abort();
    drop(node);
}
