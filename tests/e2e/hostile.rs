//! Hostile input, table-driven: malformed, oversized and garbage requests to every service
//! (client and peer side) each get a status — and the node keeps serving. Plus the admin token.

use meridian_proto::v1::{
    self as pb, admin_client::AdminClient, kv_client::KvClient,
    replication_client::ReplicationClient,
};
use tonic::{Code, Request, transport::Channel};

use crate::support::{Cluster, Spec, poll, runtime};

/// A codec that sends and receives raw bytes, for garbage messages.
pub mod raw {
    use bytes::{Buf, BufMut};
    use tonic::{
        Status,
        codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    };

    #[derive(Default, Clone)]
    pub struct Raw;
    pub struct Enc;
    pub struct Dec;

    impl Codec for Raw {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = Enc;
        type Decoder = Dec;
        fn encoder(&mut self) -> Enc {
            Enc
        }
        fn decoder(&mut self) -> Dec {
            Dec
        }
    }
    impl Encoder for Enc {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }
    impl Decoder for Dec {
        type Item = Vec<u8>;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            let v = src.chunk().to_vec();
            src.advance(v.len());
            Ok(Some(v))
        }
    }
}

async fn garbage(channel: Channel, path: &'static str, body: Vec<u8>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let r = grpc
        .unary::<Vec<u8>, Vec<u8>, _>(
            Request::new(body),
            tonic::codegen::http::uri::PathAndQuery::from_static(path),
            raw::Raw,
        )
        .await;
    r.err().map_or(Code::Ok, |s| s.code())
}

fn with_meta<T>(msg: T, key: &'static str, value: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(key, value.parse().unwrap());
    r
}

#[test]
fn malformed_oversized_and_garbage_requests_get_a_status_and_the_node_keeps_serving() {
    let c = Cluster::start("hostile", Spec::new(&["a", "b"], 5.0));
    runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut kv = KvClient::new(ch.clone()).max_encoding_message_size(8 << 20);
        let mut admin = AdminClient::new(ch.clone());
        let mut repl = ReplicationClient::new(ch.clone());
        let put = |key: &str, value: Vec<u8>| pb::PutRequest {
            key: key.into(),
            value,
            condition: None,
            write_id: String::new(),
        };
        let bad_version = pb::Condition {
            kind: Some(pb::condition::Kind::IfVersion(pb::Version {
                timestamp: 1,
                logical: 0,
                region: "mars".into(),
                ..Default::default()
            })),
        };
        let mut cases: Vec<(&str, Code)> = Vec::new();
        macro_rules! case {
            ($name:expr, $call:expr) => {
                cases.push(($name, $call.await.err().map_or(Code::Ok, |s| s.code())));
            };
        }
        case!("empty key", kv.put(put("", b"v".to_vec())));
        case!(
            "key of 2049 bytes",
            kv.put(put(&"k".repeat(2049), b"v".to_vec()))
        );
        case!(
            "value of 400 KiB + 1",
            kv.put(put("k", vec![0; 400 * 1024 + 1]))
        );
        case!("message of 5 MiB", kv.put(put("k", vec![0; 5 << 20])));
        case!(
            "if_version of an unknown region",
            kv.put(pb::PutRequest {
                key: "k".into(),
                value: vec![],
                condition: Some(bad_version),
                write_id: String::new(),
            })
        );
        case!(
            "a write id that is not a UUID",
            kv.put(pb::PutRequest {
                key: "k".into(),
                value: vec![],
                condition: None,
                write_id: "not-a-uuid".into(),
            })
        );
        case!(
            "get with an empty key",
            kv.get(pb::GetRequest {
                key: String::new(),
                ..Default::default()
            })
        );
        case!(
            "unknown client region",
            kv.get(with_meta(
                pb::GetRequest {
                    key: "k".into(),
                    ..Default::default()
                },
                "meridian-client-region",
                "mars"
            ))
        );
        case!(
            "bad consistency",
            kv.get(with_meta(
                pb::GetRequest {
                    key: "k".into(),
                    ..Default::default()
                },
                "meridian-consistency",
                "strong-ish"
            ))
        );
        case!("increment overflow", async {
            kv.put(put("n", i64::MAX.to_string().into_bytes())).await?;
            kv.increment(pb::IncrementRequest {
                key: "n".into(),
                delta: 1,
                write_id: String::new(),
            })
            .await
        });
        case!(
            "link latency NaN",
            admin.set_link(pb::SetLinkRequest {
                from: "a".into(),
                to: "b".into(),
                latency_ms: f64::NAN,
                ..Default::default()
            })
        );
        case!(
            "link to itself",
            admin.set_link(pb::SetLinkRequest {
                from: "a".into(),
                to: "a".into(),
                latency_ms: 1.0,
                ..Default::default()
            })
        );
        case!(
            "absurd latency",
            admin.set_link(pb::SetLinkRequest {
                from: "a".into(),
                to: "b".into(),
                latency_ms: 1e12,
                ..Default::default()
            })
        );
        case!(
            "partition an unknown region",
            admin.partition(pb::PartitionRequest {
                region: "mars".into(),
                ..Default::default()
            })
        );
        case!(
            "heal a peer without a region",
            admin.heal(pb::HealRequest {
                peer: "b".into(),
                ..Default::default()
            })
        );
        case!(
            "role change in global-tables mode",
            admin.set_role(pb::SetRoleRequest {
                primary: "a".into(),
                epoch: 9,
                ..Default::default()
            })
        );
        case!("pull from an unknown region", async {
            repl.pull(tokio_stream::iter(vec![pb::PullRequest {
                region: "mars".into(),
                ..Default::default()
            }]))
            .await
        });
        case!("pull from itself", async {
            repl.pull(tokio_stream::iter(vec![pb::PullRequest {
                region: "a".into(),
                ..Default::default()
            }]))
            .await
        });
        case!("pull with no request", async {
            repl.pull(tokio_stream::iter(Vec::<pb::PullRequest>::new()))
                .await
        });
        case!(
            "snapshot for an unknown region",
            repl.snapshot(pb::SnapshotRequest {
                region: "mars".into()
            })
        );
        cases.push((
            "garbage bytes to Kv/Put",
            garbage(ch.clone(), "/meridian.v1.Kv/Put", vec![0xff; 64]).await,
        ));
        cases.push((
            "garbage bytes to Admin/SetLink",
            garbage(
                ch.clone(),
                "/meridian.v1.Admin/SetLink",
                vec![0x0a, 0xff, 0xff, 0xff],
            )
            .await,
        ));
        cases.push((
            "garbage bytes to an unknown method",
            garbage(ch.clone(), "/meridian.v1.Kv/Explode", vec![1, 2, 3]).await,
        ));

        let expected = [
            ("empty key", Code::InvalidArgument),
            ("key of 2049 bytes", Code::InvalidArgument),
            ("value of 400 KiB + 1", Code::InvalidArgument),
            ("message of 5 MiB", Code::OutOfRange),
            ("if_version of an unknown region", Code::InvalidArgument),
            ("a write id that is not a UUID", Code::InvalidArgument),
            ("get with an empty key", Code::InvalidArgument),
            ("unknown client region", Code::InvalidArgument),
            ("bad consistency", Code::InvalidArgument),
            ("increment overflow", Code::FailedPrecondition),
            ("link latency NaN", Code::InvalidArgument),
            ("link to itself", Code::InvalidArgument),
            ("absurd latency", Code::InvalidArgument),
            ("partition an unknown region", Code::InvalidArgument),
            ("heal a peer without a region", Code::InvalidArgument),
            (
                "role change in global-tables mode",
                Code::FailedPrecondition,
            ),
            ("pull from an unknown region", Code::InvalidArgument),
            ("pull from itself", Code::InvalidArgument),
            ("pull with no request", Code::InvalidArgument),
            ("snapshot for an unknown region", Code::InvalidArgument),
            ("garbage bytes to Kv/Put", Code::Internal),
            ("garbage bytes to Admin/SetLink", Code::Internal),
            ("garbage bytes to an unknown method", Code::Unimplemented),
        ];
        assert_eq!(cases, expected.to_vec());

        // Still serving, and nothing changed: no link was altered, only the one valid put landed.
        let status = admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            status.log_head, 1,
            "only the valid put of the overflow case was written"
        );
        let links = admin.links(pb::LinksRequest {}).await.unwrap().into_inner();
        assert!(
            links
                .links
                .iter()
                .all(|l| l.latency_ms == 5.0 && !l.partitioned)
        );
        kv.put(put("still", b"serving".to_vec()))
            .await
            .expect("the node still serves");
    });
}

#[test]
fn admin_changes_need_the_token_when_one_is_set() {
    let c = Cluster::start(
        "token",
        Spec::new(&["a", "b"], 5.0)
            .node_arg("--admin-token")
            .node_arg("s3cret"),
    );
    let err = c.ctl_json("a", &["partition", "b"]).unwrap_err();
    assert_eq!(err["code"], "Unauthenticated", "{err}");
    let err = c
        .ctl_json(
            "a",
            &[
                "--admin-token",
                "wrong",
                "link",
                "a",
                "b",
                "--latency-ms",
                "9",
            ],
        )
        .unwrap_err();
    assert_eq!(err["code"], "Unauthenticated", "{err}");
    assert!(
        c.ctl("a", &["links"])["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["latency_ms"] == 5.0),
        "nothing changed"
    );
    let t = c.ctl(
        "a",
        &[
            "--admin-token",
            "s3cret",
            "link",
            "a",
            "b",
            "--latency-ms",
            "9",
        ],
    );
    assert_eq!(
        t["unreachable"],
        serde_json::json!([]),
        "passed on to b with the token"
    );
    assert_eq!(c.ctl("b", &["links"])["links"][0]["latency_ms"], 9.0);
    c.ctl("a", &["stats"]);
    c.ctl("a", &["put", "reads-and-writes", "need-no-token"]);
}

/// Environment variables of a command.
type Env<'a> = &'a [(&'a str, &'a str)];
/// Arguments, environment, and a piece of the expected message.
type FlagCase<'a> = (&'a [&'a str], Env<'a>, &'a str);

/// Count flags beyond their bounds and admin tokens that cannot work are usage errors: a clear
/// message and exit status 2, never a panic, and nothing started.
#[test]
fn bad_flags_and_tokens_are_usage_errors_with_status_2() {
    let cases: &[FlagCase] = &[
        (
            &["node", "--region", "a", "--workers", "18446744073709551615"],
            &[],
            "not in 1..=64",
        ),
        (
            &["node", "--region", "a", "--workers", "1000"],
            &[],
            "not in 1..=64",
        ),
        (
            &["node", "--region", "a", "--workers", "0"],
            &[],
            "not in 1..=64",
        ),
        (
            &["node", "--region", "a", "--max-batch", "0"],
            &[],
            "not in 1..=100000",
        ),
        (
            &["node", "--region", "a", "--conflict-feed", "99999999999"],
            &[],
            "not in",
        ),
        (&["load", "--concurrency", "0"], &[], "not in 1..=10000"),
        (&["load", "--workers", "65"], &[], "not in 1..=64"),
        (&["cluster", "up", "--workers", "100"], &[], "not in 1..=64"),
        (
            &["node", "--region", "a", "--admin-token", ""],
            &[],
            "the admin token is empty",
        ),
        (
            &["node", "--region", "a"],
            &[("MERIDIAN_ADMIN_TOKEN", "")],
            "the admin token is empty",
        ),
        (
            &["node", "--region", "a", "--admin-token", "tab\there"],
            &[],
            "printable ASCII",
        ),
        (
            &["node", "--region", "a", "--admin-token", "naïve"],
            &[],
            "printable ASCII",
        ),
        (
            &["node", "--region", "a", "--admin-token", "line\nbreak"],
            &[],
            "printable ASCII",
        ),
        (
            &["cluster", "--admin-token", "", "status"],
            &[],
            "the admin token is empty",
        ),
    ];
    let long = "x".repeat(100_000);
    let mut all: Vec<(Vec<&str>, Env, &str)> =
        cases.iter().map(|(a, e, m)| (a.to_vec(), *e, *m)).collect();
    all.push((
        vec!["node", "--region", "a", "--admin-token", &long],
        &[],
        "at most 1024",
    ));
    for (args, env, message) in all {
        let out = std::process::Command::new(crate::support::BIN)
            .args(&args)
            .env_remove("MERIDIAN_ADMIN_TOKEN")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(message) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// With a cluster secret, replication and anti-entropy answer only peers that send it; an
/// authenticated peer's acknowledged position only moves forward within its incarnation, so
/// neither a stranger nor a replayed open can reset it (which would bypass the RPO bound or
/// make a healthy primary refuse writes).
#[test]
fn peers_authenticate_with_the_cluster_secret_and_acks_only_move_forward() {
    let c = Cluster::start(
        "peer-secret",
        Spec::aurora(&["a", "b"], 5.0, "a").extra("secret = \"s3cret-for-tests\"\n"),
    );
    for i in 0..5 {
        c.ctl("a", &["put", &format!("k{i}"), "v"]);
    }
    let acked = |c: &Cluster| {
        c.stats("a")["secondaries"][0]["acked_seq"]
            .as_u64()
            .unwrap()
    };
    poll("b acknowledged a's writes", || {
        (acked(&c) == 5).then_some(())
    });
    runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut repl = ReplicationClient::new(ch.clone());
        let open = pb::PullRequest {
            region: "b".into(),
            after_seq: 0,
            applied_seq: 0,
            ..Default::default()
        };
        let strangers: Vec<(&str, Code)> = vec![
            (
                "pull",
                repl.pull(tokio_stream::iter(vec![open.clone()]))
                    .await
                    .err()
                    .map(|s| s.code())
                    .unwrap_or(Code::Ok),
            ),
            (
                "digest",
                repl.digest(pb::DigestRequest {
                    region: "b".into(),
                    buckets: 16,
                })
                .await
                .err()
                .map(|s| s.code())
                .unwrap_or(Code::Ok),
            ),
            (
                "items",
                repl.items(pb::ItemsRequest {
                    region: "b".into(),
                    buckets: 16,
                    wanted: vec![0],
                })
                .await
                .err()
                .map(|s| s.code())
                .unwrap_or(Code::Ok),
            ),
            (
                "snapshot",
                repl.snapshot(pb::SnapshotRequest { region: "b".into() })
                    .await
                    .err()
                    .map(|s| s.code())
                    .unwrap_or(Code::Ok),
            ),
            (
                "head",
                repl.head(pb::HeadRequest {})
                    .await
                    .err()
                    .map(|s| s.code())
                    .unwrap_or(Code::Ok),
            ),
        ];
        for (call, code) in strangers {
            assert_eq!(code, Code::Unauthenticated, "{call} without the secret");
        }
        // With the secret, a replayed open of b's incarnation claiming less cannot move it back.
        let b_incarnation = c.stats("b")["incarnation"].as_str().unwrap().to_owned();
        let replay = pb::PullRequest {
            puller_incarnation: b_incarnation,
            ..open
        };
        let mut req = Request::new(tokio_stream::iter(vec![replay]));
        req.metadata_mut()
            .insert("meridian-peer-secret", "s3cret-for-tests".parse().unwrap());
        let stream = repl.pull(req).await.unwrap();
        drop(stream);
    });
    assert_eq!(acked(&c), 5, "the acknowledged position did not move back");
    c.ctl("a", &["put", "after", "v"]);
    poll("replication still flows", || (acked(&c) == 6).then_some(()));
}

/// Role changes that would wedge the cluster are refused: an epoch at the top of the range
/// (no switchover could follow it) and a flood of fences; a real switchover still works.
#[test]
fn absurd_role_changes_are_refused_and_change_nothing() {
    let c = Cluster::start("absurd-roles", Spec::aurora(&["a", "b"], 5.0, "a"));
    runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut admin = AdminClient::new(ch);
        let role = |epoch: u64, fences: usize| pb::SetRoleRequest {
            primary: "a".into(),
            epoch,
            fences: (0..fences)
                .map(|i| pb::Fence {
                    region: "b".into(),
                    after_seq: i as u64,
                    epoch: 1,
                    cut_at_us: 0,
                })
                .collect(),
            resync: false,
        };
        for (what, req) in [
            ("epoch u64::MAX", role(u64::MAX, 0)),
            ("150000 fences", role(2, 150_000)),
        ] {
            let err = admin.set_role(req).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err}");
        }
    });
    assert_eq!(c.stats("a")["epoch"], 1, "nothing changed");
    let so = c.ctl("a", &["switchover", "--to", "b"]);
    assert_eq!(so["epoch"], 2, "{so}");
}

/// A peer may hold only a few pull streams open at once: more are refused with
/// RESOURCE_EXHAUSTED and counted, and replication to the real peer goes on.
#[test]
fn pull_streams_per_peer_are_capped_and_refusals_counted() {
    let c = Cluster::start("pull-cap", Spec::new(&["a", "b"], 5.0));
    poll("b is pulling from a", || {
        (c.stats("b")["links"][0]["connected"] == true).then_some(())
    });
    let refused = runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..5 {
            let mut repl = ReplicationClient::new(ch.clone());
            let open = pb::PullRequest {
                region: "b".into(),
                ..Default::default()
            };
            // A stream whose request side stays open and whose replies are never read.
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(open).await.unwrap();
            match repl
                .pull(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
            {
                Ok(stream) => held.push((tx, stream)),
                Err(s) => {
                    assert_eq!(s.code(), Code::ResourceExhausted, "{s}");
                    refused += 1;
                }
            }
        }
        assert!(
            refused >= 1,
            "5 more streams than the cap allows were all accepted"
        );
        drop(held);
        refused
    });
    assert_eq!(
        c.stats("a")["pull_stream_refusals"],
        refused,
        "refusals are counted"
    );
    let w = c.ctl("a", &["put", "still", "flows"]);
    poll("replication to b goes on", || {
        (c.write_id("b", "still").as_deref() == w["write_id"].as_str()).then_some(())
    });
}

/// Only gRPC is served as gRPC: a request with another content type gets HTTP 415 and is not
/// decoded (the write in its body does not happen); real gRPC calls go on.
#[test]
fn a_request_that_is_not_grpc_gets_415_and_writes_nothing() {
    let c = Cluster::start("not-grpc", Spec::new(&["a"], 1.0));
    // A valid gRPC frame of a put of key "sneaky", sent with the wrong content type.
    let body = {
        use prost::Message;
        let msg = pb::PutRequest {
            key: "sneaky".into(),
            value: b"v".to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        let mut frame = vec![0u8];
        frame.extend((msg.len() as u32).to_be_bytes());
        frame.extend(msg);
        frame
    };
    let body_file = c.path("frame.bin");
    std::fs::write(&body_file, body).unwrap();
    for content_type in ["text/plain", "application/json", "application/grpcx"] {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--http2-prior-knowledge",
            ])
            .args([
                "-H",
                &format!("content-type: {content_type}"),
                "-H",
                "te: trailers",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", body_file.display()))
            .arg(format!("{}/meridian.v1.Kv/Put", c.url("a")))
            .output()
            .expect("curl is on the machine");
        let code = String::from_utf8_lossy(&out.stdout);
        let want = if content_type == "application/grpcx" {
            "200"
        } else {
            "415"
        };
        assert_eq!(code, want, "{content_type}");
    }
    // `application/grpcx` starts with application/grpc and is served as gRPC (per the spec's
    // prefix rule), so the put went through exactly once; the refused ones wrote nothing.
    assert_eq!(c.stats("a")["log_head"], 1);
}

/// The two other effects of a forged Pull, both stopped by the cluster secret: a stranger
/// cannot claim a cut-off secondary caught up (bypassing the RPO bound), nor claim a healthy
/// one behind (making the primary refuse every write).
#[test]
fn a_stranger_can_neither_bypass_the_rpo_bound_nor_make_a_healthy_primary_refuse_writes() {
    let c = Cluster::start(
        "forged-acks",
        Spec::aurora(&["a", "b"], 5.0, "a").extra("rpo_bound_ms = 200\nsecret = \"peers-only\"\n"),
    );
    let forged_pull = |applied_seq: u64| {
        runtime().block_on(async {
            let ch = c.channel("a").await;
            let open = pb::PullRequest {
                region: "b".into(),
                after_seq: applied_seq,
                applied_seq,
                ..Default::default()
            };
            ReplicationClient::new(ch)
                .pull(tokio_stream::iter(vec![open]))
                .await
                .err()
                .map(|s| s.code())
        })
    };
    // Healthy: a claim that b is at 0 is refused, and a keeps accepting writes.
    c.ctl("a", &["put", "k1", "v"]);
    poll("b acknowledged", || {
        (c.stats("a")["secondaries"][0]["acked_seq"] == 1).then_some(())
    });
    assert_eq!(forged_pull(0), Some(Code::Unauthenticated));
    c.ctl("a", &["put", "k2", "v"]);
    // Cut off: a refuses commits; a claim that b caught up is refused, and a keeps refusing.
    c.ctl("a", &["partition", "b"]);
    poll("a refuses commits", || {
        c.ctl_json("a", &["put", "k3", "v"]).err()
    });
    let head = c.stats("a")["log_head"].as_u64().unwrap();
    assert_eq!(forged_pull(head), Some(Code::Unauthenticated));
    let err = c.ctl_json("a", &["put", "k4", "v"]).unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("RPO bound exceeded"),
        "{err}"
    );
}

/// A unary method called with two request messages is refused before its handler runs:
/// neither write happens (the gRPC runtime alone would apply the first and drop the second).
#[test]
fn a_unary_call_carrying_two_messages_is_refused_and_writes_nothing() {
    use prost::Message;
    let c = Cluster::start("two-messages", Spec::new(&["a"], 1.0));
    let put = |key: &str| {
        pb::PutRequest {
            key: key.into(),
            value: b"v".to_vec(),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let send = |messages: Vec<Vec<u8>>| {
        runtime().block_on(async {
            let ch = c.channel("a").await;
            let mut grpc = tonic::client::Grpc::new(ch);
            grpc.ready().await.unwrap();
            grpc.client_streaming::<_, Vec<u8>, Vec<u8>, _>(
                Request::new(tokio_stream::iter(messages)),
                tonic::codegen::http::uri::PathAndQuery::from_static("/meridian.v1.Kv/Put"),
                raw::Raw,
            )
            .await
            .err()
            .map_or(Code::Ok, |s| s.code())
        })
    };
    assert_eq!(
        send(vec![put("two-1"), put("two-2")]),
        Code::InvalidArgument
    );
    assert_eq!(c.stats("a")["log_head"], 0, "neither message was applied");
    assert_eq!(
        send(vec![put("one")]),
        Code::Ok,
        "one message is a normal call"
    );
    assert_eq!(c.stats("a")["log_head"], 1);
}

/// Hostile input is never echoed in full: a 20,000-character region name comes back cut to a
/// short, marked excerpt, as a status clients can still read.
#[test]
fn errors_echo_at_most_a_short_excerpt_of_hostile_input() {
    let c = Cluster::start("echo-cut", Spec::new(&["a"], 1.0));
    let long = "r".repeat(20_000);
    runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut admin = AdminClient::new(ch.clone());
        let err = admin
            .partition(pb::PartitionRequest {
                region: long.clone(),
                peer: String::new(),
                local_only: true,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(
            err.message().chars().count() <= 1024,
            "{} chars",
            err.message().len()
        );
        assert!(
            err.message().contains('…') && err.message().contains("unknown"),
            "{}",
            err.message()
        );
        let mut kv = KvClient::new(ch);
        let err = kv
            .get(with_meta(
                pb::GetRequest {
                    key: "k".into(),
                    ..Default::default()
                },
                "meridian-client-region",
                &long,
            ))
            .await
            .unwrap_err();
        assert!(
            err.message().chars().count() <= 1024,
            "{} chars",
            err.message().len()
        );
    });
}

/// A pull names regions by index (the compact form) only when the puller says it has the
/// origin's region list; any other puller, a foreign tool included, gets names.
#[test]
fn a_pull_names_regions_by_index_only_for_a_puller_with_the_same_regions() {
    let c = Cluster::start("pull-naming", Spec::new(&["a", "b"], 5.0));
    c.ctl("a", &["put", "k", "v"]);
    runtime().block_on(async {
        let ch = c.channel("a").await;
        let mut repl = ReplicationClient::new(ch);
        let mut first_write = async |region_list: &str| {
            let open = pb::PullRequest {
                region: "b".into(),
                region_list: region_list.into(),
                ..Default::default()
            };
            let mut stream = repl
                .pull(tokio_stream::iter(vec![open]))
                .await
                .unwrap()
                .into_inner();
            loop {
                let batch = stream.message().await.unwrap().expect("a batch");
                if let Some(w) = batch.writes.into_iter().next() {
                    return (w.version.unwrap(), w.context.unwrap());
                }
            }
        };
        let (version, context) = first_write("a,b").await;
        assert_eq!(
            (version.region.as_str(), version.region_index),
            ("", Some(0))
        );
        assert!(context.entries.is_empty());
        let [dot] = context.counters[..] else {
            panic!("a's counter only: {context:?}")
        };
        // Three opens posing as b beside b's own stream: within the limit of four per peer
        // even if none of them has been released yet.
        for other in ["", "b,a"] {
            let (version, context) = first_write(other).await;
            assert_eq!(
                (version.region.as_str(), version.region_index),
                ("a", None),
                "{other:?}"
            );
            assert_eq!(context.entries.get("a"), Some(&dot), "{other:?}");
            assert!(context.counters.is_empty());
        }
    });
    c.ctl("a", &["put", "after", "v"]);
    poll("replication to b still flows", || c.value("b", "after"));
}
