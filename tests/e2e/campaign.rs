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

use crate::support::{Cluster, Spec, runtime};

/// xorshift64*: the campaign's only randomness, so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
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

fn code<T>(r: Result<T, tonic::Status>) -> Code {
    r.err().map_or(Code::Ok, |s| s.code())
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
    let mut rng = Rng(seed | 1);

    // Cluster files: mutated text parses or is refused with a located message, never a panic.
    let base = meridian_node::config::DEFAULT_CLUSTER_TOML;
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
        if let Err(e) = meridian_node::config::ClusterConfig::parse(&text, "f.toml") {
            assert!(e.to_string().starts_with("f.toml"), "{e}");
        }
    }

    let c = Cluster::start("campaign-hostile", Spec::new(&["a", "b"], 5.0));
    runtime().block_on(async {
        let ch = Channel::from_shared(c.url("a")).unwrap().connect().await.unwrap();
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
                        let got = code(kv.get(pb::GetRequest { key: key.clone() }).await);
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
