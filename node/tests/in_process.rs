//! In-process tests of whole nodes: several regions served by `meridian_node::run` in one tokio
//! runtime, on loopback listeners bound to port 0, talked to over real gRPC. They cover what the
//! pure core cannot see — replication over the wire, partitions and heals, restarts that resume
//! from the high-water marks, storage recovery, an Aurora Global resync — without starting
//! processes (the e2e suite does that for the binary). Every wait polls for a condition with a
//! deadline; every node is stopped and its data directory removed when the test ends.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use meridian_core::ClusterConfig;
use meridian_node::{NodeOptions, StorageMode};
use meridian_proto::v1::{self as pb, admin_client::AdminClient, kv_client::KvClient};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

/// How long any condition may take to become true.
const DEADLINE: Duration = Duration::from_secs(20);

/// One running node.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), meridian_node::Error>>,
}

/// A cluster of in-process nodes.
struct Cluster {
    config: ClusterConfig,
    addrs: Vec<SocketAddr>,
    nodes: Vec<Option<Running>>,
    dir: Option<PathBuf>,
}

impl Cluster {
    /// Start `n` regions `r0..` (durable in a fresh directory when `durable`), with `extra`
    /// settings at the top of the cluster file and 5 ms links.
    async fn start(n: usize, extra: &str, durable: bool) -> Cluster {
        let mut listeners = Vec::new();
        let mut toml = format!("{extra}\n");
        for i in 0..n {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            toml.push_str(&format!(
                "[[region]]\nname = \"r{i}\"\nlisten = \"{}\"\n",
                l.local_addr().unwrap()
            ));
            listeners.push(l);
        }
        toml.push_str("[default_link]\nlatency_ms = 5\njitter_ms = 0\n");
        let config = ClusterConfig::parse(&toml, "in-process test").unwrap();
        let dir = durable.then(|| {
            let d =
                std::env::temp_dir().join(format!("meridian-node-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&d).unwrap();
            d
        });
        let addrs = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let mut c = Cluster {
            config,
            addrs,
            nodes: (0..n).map(|_| None).collect(),
            dir,
        };
        for (i, l) in listeners.into_iter().enumerate() {
            c.run(i, l);
        }
        c
    }

    fn data_dir(&self, i: usize) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("r{i}")))
    }

    fn run(&mut self, i: usize, listener: TcpListener) {
        let mut opts = NodeOptions::new(&format!("r{i}"), self.config.clone());
        if let Some(d) = self.data_dir(i) {
            opts.storage = StorageMode::Durable(d);
        }
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(meridian_node::run(
            opts,
            meridian_node::Listeners::grpc(listener),
            async {
                let _ = rx.await;
            },
        ));
        self.nodes[i] = Some(Running { stop, task });
    }

    /// Stop region `i` and wait until it has shut down (its tasks awaited, storage closed).
    async fn stop(&mut self, i: usize) {
        let r = self.nodes[i].take().expect("region is running");
        let _ = r.stop.send(());
        r.task.await.unwrap().unwrap();
    }

    /// Start region `i` again on its address.
    async fn restart(&mut self, i: usize) {
        let listener = TcpListener::bind(self.addrs[i]).await.unwrap();
        self.run(i, listener);
    }

    fn channel(&self, i: usize) -> Channel {
        Channel::from_shared(format!("http://{}", self.addrs[i]))
            .unwrap()
            .connect_lazy()
    }

    fn kv(&self, i: usize) -> KvClient<Channel> {
        KvClient::new(self.channel(i))
    }

    fn admin(&self, i: usize) -> AdminClient<Channel> {
        AdminClient::new(self.channel(i))
    }

    async fn put(&self, i: usize, key: &str, value: &str) -> pb::WriteReply {
        self.kv(i)
            .put(pb::PutRequest {
                key: key.into(),
                value: value.as_bytes().to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    }

    async fn get(&self, i: usize, key: &str) -> Option<String> {
        let r = self
            .kv(i)
            .get(pb::GetRequest {
                key: key.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (r.found && !r.tombstone).then(|| String::from_utf8(r.value).unwrap())
    }

    async fn status(&self, i: usize) -> pb::NodeStatus {
        self.admin(i)
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    /// Poll `get(i, key)` until it is `want`.
    async fn wait_value(&self, i: usize, key: &str, want: Option<&str>) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let got = self.get(i, key).await;
            if got.as_deref() == want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "r{i}: {key} is {got:?}, not {want:?} after {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Poll region `i`'s status until `ok` holds for it.
    async fn wait_status(
        &self,
        i: usize,
        what: &str,
        ok: impl Fn(&pb::NodeStatus) -> bool,
    ) -> pb::NodeStatus {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let s = self.status(i).await;
            if ok(&s) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "r{i}: {what} did not happen within {DEADLINE:?}: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Cut `region` off from every other region (through r0's admin service, which tells all).
    async fn partition(&self, region: &str) {
        self.admin(0)
            .partition(pb::PartitionRequest {
                region: region.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Heal every link of `region`.
    async fn heal(&self, region: &str) {
        self.admin(0)
            .heal(pb::HealRequest {
                region: region.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_some() {
                self.stop(i).await;
            }
        }
        if let Some(d) = self.dir.take() {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

impl Drop for Cluster {
    /// A failed test still stops its nodes (aborting their tasks) and removes its directory.
    fn drop(&mut self) {
        for r in self.nodes.iter_mut().flatten() {
            r.task.abort();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn link<'a>(s: &'a pb::NodeStatus, origin: &str) -> &'a pb::LinkStatus {
    s.links
        .iter()
        .find(|l| l.origin == origin)
        .expect("a link from origin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_reaches_every_peer_and_links_count_it() {
    let c = Cluster::start(3, "", false).await;
    let w = c.put(0, "k", "v").await;
    assert_eq!(w.committed_by, "r0");
    for i in [1, 2] {
        c.wait_value(i, "k", Some("v")).await;
        let s = c
            .wait_status(i, "the link from r0 applied seq 1", |s| {
                link(s, "r0").applied_seq == 1
            })
            .await;
        assert_eq!(link(&s, "r0").writes_applied, 1);
        assert_eq!(s.items, 1);
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_across_a_partition_converge_and_the_loser_is_reported() {
    let c = Cluster::start(2, "", false).await;
    c.partition("r0").await;
    let a = c.put(0, "k", "from-r0").await;
    let b = c.put(1, "k", "from-r1").await;
    c.heal("r0").await;
    // Both regions settle on one of the two writes (last writer wins)...
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let winner = loop {
        let (v0, v1) = (c.get(0, "k").await, c.get(1, "k").await);
        if let Some(v) = &v0
            && v0 == v1
        {
            break v.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no convergence: {v0:?} vs {v1:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // ...and the other one is reported as lost, by write id, in a region's conflict feed.
    let loser = match winner.as_str() {
        "from-r1" => &a.write_id,
        "from-r0" => &b.write_id,
        other => panic!("neither write won: {other}"),
    };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut reported = false;
        for i in [0, 1] {
            let feed = c
                .admin(i)
                .conflicts(pb::ConflictsRequest::default())
                .await
                .unwrap()
                .into_inner();
            reported |= feed
                .events
                .iter()
                .any(|e| e.key == "k" && e.loser.as_ref().is_some_and(|l| &l.write_id == loser));
        }
        if reported {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lost write {loser} was not reported"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_durable_node_recovers_its_state_and_resumes_from_its_high_water_marks() {
    let mut c = Cluster::start(2, "", true).await;
    for i in 0..20 {
        c.put(0, &format!("k{i}"), "v1").await;
    }
    c.wait_status(1, "20 writes applied", |s| link(s, "r0").applied_seq == 20)
        .await;
    let before = c.status(1).await;
    c.stop(1).await;
    assert!(
        c.data_dir(1).unwrap().exists(),
        "the data directory is kept"
    );

    // Written while r1 is down.
    for i in 20..30 {
        c.put(0, &format!("k{i}"), "v2").await;
    }
    c.restart(1).await;
    let s = c
        .wait_status(1, "all 30 writes applied", |s| {
            link(s, "r0").applied_seq == 30
        })
        .await;
    assert_eq!(
        s.incarnation, before.incarnation,
        "same data directory, same incarnation"
    );
    assert_eq!(s.items, 30);
    assert_eq!(
        link(&s, "r0").writes_applied,
        10,
        "resumed at its high-water mark: only the 10 missed writes were pulled again"
    );
    c.wait_value(1, "k5", Some("v1")).await;
    c.wait_value(1, "k25", Some("v2")).await;

    // The origin's own log survives its restart too: a peer still resumes after it.
    c.stop(0).await;
    c.restart(0).await;
    let s0 = c
        .wait_status(0, "r0 serving again", |s| s.log_head == 30)
        .await;
    assert_eq!(s0.items, 30);
    c.put(0, "after-restart", "v3").await;
    c.wait_value(1, "after-restart", Some("v3")).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_node_restarts_empty_and_anti_entropy_brings_its_writes_back() {
    let mut c = Cluster::start(2, "", false).await;
    let w = c.put(1, "mine", "v").await;
    c.wait_value(0, "mine", Some("v")).await;
    let before = c.status(1).await;
    c.stop(1).await;
    c.restart(1).await;
    // Its own write lives on only in r0's state: the start-up repair round brings it back.
    c.wait_value(1, "mine", Some("v")).await;
    let s = c.status(1).await;
    assert_ne!(
        s.incarnation, before.incarnation,
        "memory mode: a new incarnation"
    );
    let r = c
        .kv(1)
        .get(pb::GetRequest {
            key: "mine".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.write_id, w.write_id, "the same write, not a new one");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aurora_resync_replaces_a_secondarys_state_with_the_primarys() {
    let c = Cluster::start(2, "mode = \"aurora-global\"\nprimary = \"r0\"", false).await;
    c.put(0, "shared", "v").await;
    c.wait_value(1, "shared", Some("v")).await;
    // A failover: r1 is cut off from r0 and promoted (epoch 2) with a fence after the last
    // write of r0 it applied; r0, still believing itself primary, takes one more write.
    c.partition("r0").await;
    let fence = pb::Fence {
        region: "r0".into(),
        after_seq: 1,
        epoch: 2,
        ..Default::default()
    };
    c.admin(1)
        .set_role(pb::SetRoleRequest {
            primary: "r1".into(),
            epoch: 2,
            fences: vec![fence.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    c.put(0, "divergent", "lost").await;
    c.put(1, "after", "w").await;
    c.heal("r0").await;
    // r0 rejoins as a secondary: its state is replaced by a snapshot of r1's.
    c.admin(0)
        .set_role(pb::SetRoleRequest {
            primary: "r1".into(),
            epoch: 2,
            resync: true,
            fences: vec![fence],
        })
        .await
        .unwrap();
    assert_eq!(
        c.get(0, "divergent").await,
        None,
        "the split-brain write is gone from r0's state"
    );
    // The new primary has pulled r0's log past the split-brain write (seq 2) and set it aside.
    c.wait_status(1, "r1 pulled r0's log through seq 2", |s| {
        link(s, "r0").applied_seq >= 2
    })
    .await;
    assert_eq!(
        c.get(1, "divergent").await,
        None,
        "and was never taken by the new primary"
    );
    assert_eq!(
        c.status(0).await.divergent_writes,
        1,
        "it stays in r0's log, set aside"
    );
    // The snapshot carries r1's write; writes now flow from r1 to r0 only.
    c.wait_value(0, "after", Some("w")).await;
    c.wait_value(0, "shared", Some("v")).await;
    let s0 = c.status(0).await;
    assert_eq!(
        (s0.primary.as_str(), s0.epoch, s0.writable),
        ("r1", 2, false)
    );
    let refused = c
        .kv(0)
        .put(pb::PutRequest {
            key: "x".into(),
            value: b"y".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    c.put(1, "later", "z").await;
    c.wait_value(0, "later", Some("z")).await;
    c.shutdown().await;
}
