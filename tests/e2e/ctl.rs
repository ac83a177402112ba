//! `meridian ctl` with a cluster file of its own: no `--region` means the cluster's first
//! region (not the built-in cluster's us-east-1), and text output names the node that answered.

use crate::support::{Cluster, Spec, meridian};

#[test]
fn ctl_defaults_to_the_clusters_first_region_and_names_the_node_that_answered() {
    let c = Cluster::start("ctl-default", Spec::new(&["a", "b"], 5.0));
    let file = c.file.to_str().unwrap();
    let a = c.url("a").trim_start_matches("http://").to_owned();
    let b = c.url("b").trim_start_matches("http://").to_owned();

    // The example: a partition with no --region in a cluster without us-east-1.
    let (ok, out, err) = meridian(&["ctl", "--cluster", file, "partition", "b"], None);
    assert!(ok, "partition without --region: {out}\n{err}");
    assert!(
        out.trim_end().ends_with(&format!("(answered by a at {a})")),
        "{out}"
    );
    let (ok, out, err) = meridian(&["ctl", "--cluster", file, "heal"], None);
    assert!(ok, "{out}\n{err}");

    let (ok, out, err) = meridian(&["ctl", "--cluster", file, "put", "k", "v"], None);
    assert!(ok, "{out}\n{err}");
    let lines: Vec<&str> = out.trim_end().lines().collect();
    assert!(lines[0].starts_with("k: written by a"), "{out}");
    assert_eq!(
        lines.last(),
        Some(&format!("(answered by a at {a})").as_str())
    );

    let (ok, out, _) = meridian(&["ctl", "--cluster", file, "--region", "b", "stats"], None);
    assert!(
        ok && out.trim_end().ends_with(&format!("(answered by b at {b})")),
        "{out}"
    );
    // --addr alone: the region listening there, from the cluster file.
    let (ok, out, _) = meridian(&["ctl", "--cluster", file, "--addr", &b, "stats"], None);
    assert!(
        ok && out.trim_end().ends_with(&format!("(answered by b at {b})")),
        "{out}"
    );

    // JSON output is one object, unchanged.
    let (ok, out, _) = meridian(&["ctl", "--cluster", file, "get", "k", "--json"], None);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["value"], "v");

    // An unknown --region still says which regions there are.
    let (ok, _, err) = meridian(
        &["ctl", "--cluster", file, "--region", "us-east-1", "stats"],
        None,
    );
    assert!(
        !ok && err.contains("unknown region \"us-east-1\"") && err.contains("a, b"),
        "{err}"
    );
}
