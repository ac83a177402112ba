//! Tombstone collection with real processes (Global Tables, `log_retention_ms = 0`, a short
//! grace period): every region drops a delete's tombstone once all have settled it, a key
//! written again afterwards is an ordinary overwrite (no conflict), a restart keeps what was
//! collected, a partitioned region holds collection back, and a load with deletes passes the
//! checker while tombstones are collected under it.

use crate::support::{Cluster, Spec, figure, finish_load, poll, start_load};

const COLLECTING: &str = "log_retention_ms = 0\ntombstone_grace_ms = 100";

/// Poll until every region has collected `n` tombstones and holds `items` keys.
fn wait_collected(c: &Cluster, n: u64, items: u64) {
    for r in c.regions.clone() {
        poll(
            &format!("{r} collects {n} tombstones and holds {items} keys"),
            || {
                let s = c.stats(r);

                (figure(&s, "tombstones_collected") == n && figure(&s, "items") == items)
                    .then_some(())
            },
        );
    }
}

#[test]
fn settled_tombstones_are_collected_everywhere_and_a_key_written_again_is_no_conflict() {
    let mut c = Cluster::start(
        "tomb-collect",
        Spec::new(&["a", "b", "c"], 5.0).extra(COLLECTING),
    );
    assert_eq!(c.stats("a")["collects_tombstones"], true);
    for i in 0..20 {
        c.ctl("a", &["put", &format!("k{i}"), "v"]);
    }
    for r in ["b", "c"] {
        poll(&format!("{r} has every key"), || {
            (figure(&c.stats(r), "items") == 20).then_some(())
        });
    }
    for i in 0..10 {
        c.ctl("b", &["delete", &format!("k{i}")]);
    }
    wait_collected(&c, 10, 10);
    assert_eq!(c.converged().len(), 10, "only the live keys are left");
    // Written again in another region: after the delete everywhere, not concurrent with it.
    let again = c.ctl("c", &["put", "k3", "again"]);
    for r in ["a", "b", "c"] {
        poll(&format!("{r} sees k3 again"), || {
            (c.value(r, "k3").as_deref() == Some("again")).then_some(())
        });
        let s = c.stats(r);
        assert_eq!(figure(&s, "conflicts"), 0, "{r}: {s}");
        assert_eq!(figure(&s, "lost_writes"), 0, "{r}: {s}");
    }
    assert_eq!(c.write_id("a", "k3").as_deref(), again["write_id"].as_str());
    // A restart keeps what was collected, and what a key written after it comes after.
    c.kill("a");
    c.start_node("a");
    assert_eq!(figure(&c.stats("a"), "items"), 11);
    assert_eq!(c.value("a", "k4"), None);
    c.ctl("a", &["put", "k4", "after-restart"]);
    for r in ["b", "c"] {
        poll(&format!("{r} sees k4 again"), || {
            (c.value(r, "k4").as_deref() == Some("after-restart")).then_some(())
        });
    }
    for r in ["a", "b", "c"] {
        assert_eq!(figure(&c.stats(r), "conflicts"), 0, "{r}");
    }
    c.converged();
}

#[test]
fn a_partitioned_region_holds_collection_back_until_it_is_healed() {
    let c = Cluster::start(
        "tomb-partition",
        Spec::new(&["a", "b", "c"], 5.0).extra(COLLECTING),
    );
    for i in 0..10 {
        c.ctl("a", &["put", &format!("k{i}"), "v"]);
    }
    for r in ["b", "c"] {
        poll(&format!("{r} has every key"), || {
            (figure(&c.stats(r), "items") == 10).then_some(())
        });
    }
    c.ctl("a", &["partition", "c"]);
    for i in 0..5 {
        c.ctl("a", &["delete", &format!("k{i}")]);
    }
    // a and b consider the tombstones; c has not got the deletes, so nobody may drop them.
    for r in ["a", "b"] {
        poll(&format!("{r} asks about the 5 tombstones"), || {
            (figure(&c.stats(r), "tombstones_candidates") == 5).then_some(())
        });
    }
    let b_head = figure(&c.stats("b"), "log_head");
    poll(
        "b's log is truncated (nothing left for a collection to wait on there)",
        || (figure(&c.stats("b"), "log_base") >= b_head).then_some(()),
    );
    for r in ["a", "b", "c"] {
        assert_eq!(figure(&c.stats(r), "tombstones_collected"), 0, "{r}");
    }
    assert_eq!(
        c.value("c", "k0").as_deref(),
        Some("v"),
        "c never got the delete"
    );
    c.ctl("a", &["heal"]);
    wait_collected(&c, 5, 5);
    assert_eq!(c.value("c", "k0"), None);
    c.converged();
}

#[test]
fn a_load_with_deletes_passes_the_checker_while_tombstones_are_collected() {
    let c = Cluster::start(
        "tomb-load",
        Spec::new(&["a", "b", "c"], 5.0).extra(COLLECTING),
    );
    let (load, json) = start_load(
        &c,
        "load.json",
        &[
            "--duration",
            "8",
            "--rate",
            "300",
            "--keys",
            "300",
            "--mix",
            "put=50,get=20,delete=30",
        ],
    );
    for r in ["a", "b", "c"] {
        poll(&format!("{r} collects tombstones under the load"), || {
            (figure(&c.stats(r), "tombstones_collected") > 0).then_some(())
        });
    }
    let r = finish_load(load, &json);
    assert_eq!(r["checker"]["ok"], true, "{}", r["checker"]);
}
