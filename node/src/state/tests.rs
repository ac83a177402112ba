//! Node-state tests: resync and the pull sessions' resync generation, without a network.

use futures::executor::block_on;

use super::*;
use crate::options::StorageMode;
use meridian_core::{ClusterConfig, clock::ClockMode, testkit::Sim};

/// A two-region Aurora Global node state for `r1` (primary `r0`).
fn secondary() -> NodeState {
    let toml = r#"mode = "aurora-global"
primary = "r0"
[[region]]
name = "r0"
listen = "127.0.0.1:0"
[[region]]
name = "r1"
listen = "127.0.0.1:0"
"#;
    let cluster = ClusterConfig::parse(toml, "test").unwrap();
    NodeState::new(NodeOptions::new("r1", cluster)).unwrap()
}

#[test]
fn a_batch_pulled_before_a_resync_is_discarded_and_the_session_restarts_at_the_new_position() {
    let state = secondary();
    let r0 = state.regions.id("r0").unwrap();
    let mut primary = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let w1 = primary.put(0, "a", "1");
    let w2 = primary.put(0, "b", "2");
    let w3 = primary.put(0, "c", "3");

    let (after, generation) = state.pull_position(r0);
    assert_eq!(after, 0);
    assert!(matches!(
        state.apply_batch(r0, std::slice::from_ref(&w1), generation),
        Applied::Done
    ));
    assert_eq!(state.applied_from(r0), 1);

    // A snapshot of the primary as of seq 2 replaces the state.
    let role = state.replica().role().clone();
    block_on(state.resync(role, vec![w1.clone(), w2.clone()], |_| 2)).unwrap();
    assert_eq!(state.applied_from(r0), 2);
    assert_eq!(state.replica().store().len(), 2);

    // The old session's next batch is refused; nothing of it lands in the store.
    assert!(
        matches!(
            state.apply_batch(r0, std::slice::from_ref(&w3), generation),
            Applied::Resynced
        ),
        "stale session"
    );
    assert!(state.replica().store().get("c").is_none());
    assert_eq!(
        state.applied_from(r0),
        2,
        "the applied position describes the store"
    );

    // A new session starts at the snapshot's position, in the new generation.
    let (after, new_generation) = state.pull_position(r0);
    assert_eq!(after, 2);
    assert_ne!(new_generation, generation);
    assert!(matches!(
        state.apply_batch(r0, std::slice::from_ref(&w3), new_generation),
        Applied::Done
    ));
    assert_eq!(state.applied_from(r0), 3);
    assert!(state.replica().store().get("c").is_some());
}

/// A durable one-region node over a fresh directory.
fn durable_node(dir: &std::path::Path) -> NodeState {
    let toml = "[[region]]\nname = \"r0\"\nlisten = \"127.0.0.1:0\"\n";
    let cluster = ClusterConfig::parse(toml, "test").unwrap();
    let (storage, recovered) = storage::Storage::open(dir, cluster.region_set()).unwrap();
    let mut opts = NodeOptions::new("r0", cluster);
    opts.storage = StorageMode::Durable(dir.to_owned());
    NodeState::with_storage(opts, recovered, Persister::start(storage)).unwrap()
}

/// While a write's group commit has not reached the disk, a read of the key waits, the
/// durable head (what `Admin/Log` and peers see) does not include it, and a durability
/// ticket taken after it is not synced; once the disk answers, all three show it.
#[test]
// The guard holds the storage thread's gate (a std lock), deliberately across awaits: it
// blocks the persist thread, never this runtime's tasks.
#[allow(clippy::await_holding_lock)]
fn a_write_is_invisible_to_reads_and_the_log_until_it_is_durable() {
    let dir = std::env::temp_dir().join(format!("meridian-state-durable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let state = Arc::new(durable_node(&dir));
        let hold = state.persister().unwrap().clone();
        let guard = hold.hold();
        let writer = {
            let state = state.clone();
            tokio::spawn(async move {
                state
                    .commit("k", WriteOp::Put(Arc::from(&b"v"[..])), None, None)
                    .await
            })
        };
        // The write is in the store, queued for the disk.
        while state.replica().store().get("k").is_none() {
            tokio::task::yield_now().await;
        }
        let reader = {
            let state = state.clone();
            tokio::spawn(async move { state.read_durable("k").await })
        };
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(
            !reader.is_finished(),
            "a read returned a write that is not durable"
        );
        assert!(!writer.is_finished());
        assert_eq!(
            state.durable_head(),
            0,
            "the log shows only durable entries"
        );
        let ticket = state.durability_ticket();
        assert!(!hold.is_synced(ticket.unwrap()));
        drop(guard);
        let committed = writer.await.unwrap().unwrap();
        let read = reader.await.unwrap().unwrap().unwrap();
        assert_eq!(read.id, committed.write.id);
        assert_eq!(state.durable_head(), 1);
        state.wait_durable(ticket).await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Open `dir` again once the previous node's persist thread has let it go.
fn reopen(dir: &std::path::Path) -> (storage::Storage, storage::Recovered) {
    reopen_as(dir, &["r0"]).unwrap()
}

/// Open `dir` as a node of a cluster of `regions`, retrying (20 s at most) while the previous
/// node still holds it (fjall: `Locked`); a refusal of the region list is returned at once.
fn reopen_as(
    dir: &std::path::Path,
    regions: &[&str],
) -> crate::error::Result<(storage::Storage, storage::Recovered)> {
    let toml: String = regions
        .iter()
        .map(|r| format!("[[region]]\nname = \"{r}\"\nlisten = \"127.0.0.1:0\"\n"))
        .collect();
    let cluster = ClusterConfig::parse(&toml, "test").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match storage::Storage::open(dir, cluster.region_set()) {
            Err(e)
                if !e.to_string().contains("belongs to a cluster")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other,
        }
    }
}

/// The data directory names regions by index, so a node of a cluster with other regions
/// cannot read it: it is refused with both region lists named, and left as it was.
#[test]
fn a_data_directory_is_refused_to_a_cluster_of_other_regions() {
    let dir = std::env::temp_dir().join(format!("meridian-state-regions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = durable_node(&dir);
    block_on(state.commit("k", WriteOp::Put(Arc::from(&b"v"[..])), None, None)).unwrap();
    drop(state);
    let e = reopen_as(&dir, &["r0", "q"])
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("belongs to a cluster of regions r0; this cluster has q, r0"),
        "{e}"
    );
    let (_storage, recovered) = reopen(&dir);
    assert_eq!(recovered.items.len(), 1, "the directory is unchanged");
    assert_eq!(recovered.items[0].0.key(), "k");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One copy of each write on disk: the item of a key whose current write is an own log entry
/// names the entry (restored as the same write), and the truncation that removes the entry
/// writes the item in full, so the key survives a restart after it.
#[test]
fn an_item_shares_its_own_log_entry_and_survives_the_entry_s_truncation() {
    let dir = std::env::temp_dir().join(format!("meridian-state-onecopy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let put = |state: &NodeState, key: &str, value: &str| {
        block_on(state.commit(key, WriteOp::Put(Arc::from(value.as_bytes())), None, None)).unwrap()
    };
    let state = durable_node(&dir);
    put(&state, "a", "1");
    put(&state, "a", "2");
    put(&state, "b", "1");
    drop(state);

    let (storage, recovered) = reopen(&dir);
    assert_eq!(recovered.log.head(), 3);
    let mut shared = 0;
    for (current, _) in &recovered.items {
        let entry = recovered.log.get(current.seq).expect("in the log");
        assert!(
            Arc::ptr_eq(entry, current),
            "{} restored as a second copy",
            current.key()
        );
        shared += 1;
    }
    assert_eq!(shared, 2);
    let toml = "log_retention_ms = 0\n[[region]]\nname = \"r0\"\nlisten = \"127.0.0.1:0\"\n";
    let mut opts = NodeOptions::new("r0", ClusterConfig::parse(toml, "test").unwrap());
    opts.storage = StorageMode::Durable(dir.clone());
    let state = NodeState::with_storage(opts, recovered, Persister::start(storage)).unwrap();
    state.truncate_log();
    assert_eq!(state.replica().log_base(), 3, "everything is truncated");
    put(&state, "c", "1");
    drop(state);

    let (_storage, recovered) = reopen(&dir);
    assert_eq!(recovered.log.base(), 3);
    let mut values: Vec<_> = recovered
        .items
        .iter()
        .map(|(w, _)| (w.key().to_owned(), w.value().map(<[u8]>::to_vec), w.seq))
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            ("a".to_owned(), Some(b"2".to_vec()), 2),
            ("b".to_owned(), Some(b"1".to_vec()), 3),
            ("c".to_owned(), Some(b"1".to_vec()), 4),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// After a failed commit nothing more reaches the disk: a later batch may rely on the failed
/// one (an item naming a log entry it held), so it is refused, not written.
#[test]
fn after_a_failed_commit_nothing_more_is_written() {
    let dir = std::env::temp_dir().join(format!("meridian-state-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = durable_node(&dir);
    block_on(state.commit("k", WriteOp::Put(Arc::from(&b"v"[..])), None, None)).unwrap();
    let persister = state.persister().unwrap().clone();
    persister.fail_for_test();
    let removal = vec![storage::Op::Collect {
        key: "k".into(),
        bucket: 0,
        floor: Default::default(),
    }];
    let refused = block_on(persister.queue(removal)).unwrap();
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("an earlier commit failed"),
        "refused"
    );
    drop(persister);
    drop(state);
    let (_storage, recovered) = reopen(&dir);
    assert_eq!(
        recovered.items.len(),
        1,
        "the batch after the failure was not written"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
