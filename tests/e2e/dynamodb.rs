//! The DynamoDB endpoint driven by a real AWS SDK (boto3) and the aws cli against real node
//! processes: every attribute type, Query paging and order, conditions, lag, lost updates and
//! their report, Aurora Global secondaries, hostile requests, batches and transactions.

use std::process::Command;

use crate::support::*;

const REGIONS: &[&str] = &["a", "b"];

#[test]
fn items_of_every_type_round_trip_and_errors_are_dynamodbs() {
    let c = Cluster::start("ddb-types", Spec::new(REGIONS, 5.0));
    c.boto3("roundtrip", &[]);
    c.boto3("batches_and_transactions", &[]);
}

/// An MRSC cluster: replicas `near` and `far` 250 ms apart, the witness `w` 15 ms from both,
/// so a write at `near` is acknowledged through the witness long before `far`'s copy has it.
#[test]
fn an_mrsc_table_writes_through_the_quorum_and_never_judges_on_a_stale_copy() {
    let spec = Spec::new(&["far", "near", "w"], 15.0)
        .extra("multi_region_consistency = \"strong\"\n[[link]]\nbetween = [\"near\", \"far\"]\nlatency_ms = 250")
        .region_extra("w", "witness = true");
    let c = Cluster::start("ddb-strong", spec);
    for r in ["far", "near"] {
        poll(&format!("{r} takes part"), || {
            (c.stats(r)["quorum"] == "ok").then_some(())
        });
    }
    let out = c.boto3("strong", &["near", "far", "w"]);
    assert!(out.contains("strong OK"), "{out}");
    // Every write went through the quorum: the replicas and the witness agree.
    for key in ["ddb/mrsc/S\"cond\"", "ddb/mrsc/S\"claim\""] {
        let want = c.ctl("near", &["get", key, "--consistent"]);
        poll(&format!("far holds {key}"), || {
            (c.ctl("far", &["get", key])["value"] == want["value"]).then_some(())
        });
    }
}

#[test]
fn query_pages_in_sort_key_order_and_conditions_fail_as_dynamodb_does() {
    let c = Cluster::start("ddb-query", Spec::new(REGIONS, 5.0));
    c.boto3("query_paging", &[]);
    c.boto3("conditional_failure", &[]);
}

#[test]
fn a_put_is_visible_in_another_region_only_after_the_links_lag() {
    let c = Cluster::start("ddb-lag", Spec::new(REGIONS, 300.0));
    let out = c.boto3("lag", &["300"]);
    assert!(out.contains("lag OK"), "{out}");
}

/// Partition the two regions, run `during` in each (concurrent writes: neither region hears
/// of the other's), then heal.
fn across_a_partition(c: &Cluster, during: impl Fn(&str)) {
    c.ctl("a", &["partition", "a"]);
    for r in REGIONS {
        during(r);
    }
    c.ctl("a", &["heal", "a"]);
}

fn conflict_for(c: &Cluster, key: &str) -> serde_json::Value {
    poll(&format!("a conflict event for {key}"), || {
        REGIONS.iter().find_map(|r| {
            let feed = c.ctl(r, &["conflicts"]);
            feed["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["key"] == key)
                .cloned()
        })
    })
}

#[test]
fn concurrent_update_items_lose_a_whole_item_update_and_the_loser_is_reported() {
    let c = Cluster::start("ddb-lww", Spec::new(REGIONS, 5.0));
    c.boto3("create_replicated", &[]);
    across_a_partition(&c, |r| {
        let attribute = if r == "a" { "from_a" } else { "from_b" };
        c.boto3("update_in", &[r, attribute]);
    });
    let out = c.boto3("converge", &["k", "from_a", "from_b"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["present"].as_array().unwrap().len(),
        1,
        "last writer wins on the whole item: one region's update is lost ({v})"
    );
    let event = conflict_for(&c, r#"ddb/lww/S"k""#);
    assert!(
        event["winner"]["write_id"].is_string() && event["loser"]["write_id"].is_string(),
        "{event}"
    );
}

#[test]
fn a_conditional_put_passes_in_both_regions_and_one_write_is_then_lost() {
    let c = Cluster::start("ddb-cond", Spec::new(REGIONS, 5.0));
    c.boto3("create_replicated", &[]);
    across_a_partition(&c, |r| {
        c.boto3("conditional_put_in", &[r]);
    });
    let out = c.boto3("converge", &["claim", "owner"]);
    assert!(out.contains("\"owner\""), "{out}");
    conflict_for(&c, r#"ddb/lww/S"claim""#);
}

#[test]
fn an_aurora_secondary_refuses_writes_naming_the_primary_and_serves_reads() {
    let spec = Spec::new(REGIONS, 5.0)
        .mode("aurora-global")
        .extra("primary = \"a\"");
    let c = Cluster::start("ddb-aurora", spec);
    c.boto3("aurora_secondary", &["a", "refusing"]);
}

#[test]
fn with_write_forwarding_an_aurora_secondary_passes_writes_to_the_primary() {
    let c = Cluster::start("ddb-forward", Spec::aurora(REGIONS, 5.0, "a"));
    c.boto3("aurora_secondary", &["a", "forwarding"]);
    let stats = c.ctl("b", &["stats"]);
    assert_eq!(stats["forwarded_writes"], 1, "{stats}");
}

#[test]
fn hostile_requests_get_dynamodb_shaped_errors_and_the_node_keeps_serving() {
    let c = Cluster::start("ddb-hostile", Spec::new(REGIONS, 5.0));
    c.boto3("hostile", &[]);
    c.ctl("a", &["stats"]);
}

#[test]
fn the_aws_cli_works_against_an_endpoint() {
    let c = Cluster::start("ddb-cli", Spec::new(REGIONS, 5.0));
    c.boto3("create_replicated", &[]);
    let endpoints: serde_json::Value = serde_json::from_str(&c.dynamodb_endpoints()).unwrap();
    let aws = |args: &[&str]| {
        let out = Command::new("aws")
            .args([
                "dynamodb",
                "--endpoint-url",
                endpoints["b"].as_str().unwrap(),
                "--region",
                "b",
                "--output",
                "json",
            ])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "meridian")
            .env("AWS_SECRET_ACCESS_KEY", "meridian")
            .output()
            .expect("the aws cli runs (installed by .ci/run)");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
    };
    assert_eq!(
        aws(&["list-tables"])["TableNames"],
        serde_json::json!(["lww"])
    );
    aws(&[
        "put-item",
        "--table-name",
        "lww",
        "--item",
        r#"{"pk": {"S": "cli"}, "n": {"N": "7"}}"#,
    ]);
    let got = aws(&[
        "get-item",
        "--table-name",
        "lww",
        "--key",
        r#"{"pk": {"S": "cli"}}"#,
    ]);
    assert_eq!(got["Item"]["n"], serde_json::json!({"N": "7"}));
    let described = aws(&["describe-table", "--table-name", "lww"]);
    assert_eq!(described["Table"]["GlobalTableVersion"], "2019.11.21");
    assert_eq!(described["Table"]["Replicas"][0]["RegionName"], "a");
}
