//! Table tests: CreateTable's validations, key checks against the schema, storage keys.

use serde_json::json;

use super::*;
use crate::{ops::Context, value::map_from_json};

fn create(body: Value) -> Result<Table> {
    Table::from_create(&body, "us-east-1", 0.0)
}

fn orders() -> Table {
    create(json!({
        "TableName": "orders",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST"
    }))
    .unwrap()
}

#[test]
fn create_table_is_validated_as_dynamodb_does() {
    let base = json!({
        "TableName": "t1x",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    });
    create(base.clone()).unwrap();
    for (patch, needle) in [
        (
            json!({"TableName": "ab"}),
            "length greater than or equal to 3",
        ),
        (json!({"TableName": "a b c"}), "regular expression pattern"),
        (
            json!({"AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}]}),
            "not defined in AttributeDefinitions",
        ),
        (
            json!({"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}]}),
            "does not exactly match",
        ),
        (
            json!({"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "X"}]}),
            "enum value set: [B, N, S]",
        ),
        (
            json!({"KeySchema": [{"AttributeName": "pk", "KeyType": "RANGE"}]}),
            "not a HASH key",
        ),
        (
            json!({"ProvisionedThroughput": null}),
            "must both be specified when BillingMode is PROVISIONED",
        ),
        (
            json!({"BillingMode": "PAY_PER_REQUEST"}),
            "can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (json!({"BillingMode": "FREE"}), "billingMode"),
        (
            json!({"GlobalSecondaryIndexes": []}),
            "secondary indexes are not supported",
        ),
    ] {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = create(body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{patch}: {e}");
        assert!(e.message.contains(needle), "{patch}: {e}");
    }
}

#[test]
fn keys_are_checked_against_the_schema() {
    let t = orders();
    let item = |v: Value| map_from_json(&v).unwrap();
    let key = t
        .key_of(
            &item(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}})),
            false,
        )
        .unwrap();
    assert_eq!(key.len(), 2);
    for (v, exact, needle) in [
        (
            json!({"pk": {"S": "a"}}),
            false,
            "Missing the key sk in the item",
        ),
        (
            json!({"pk": {"N": "1"}, "sk": {"N": "1"}}),
            false,
            "Type mismatch for key pk expected: S actual: N",
        ),
        (
            json!({"pk": {"S": ""}, "sk": {"N": "1"}}),
            false,
            "cannot contain an empty string value. Key: pk",
        ),
        (
            json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}),
            true,
            "does not match the schema",
        ),
        (json!({"pk": {"S": "a"}}), true, "does not match the schema"),
        (
            json!({"pk": {"S": "k".repeat(2049)}, "sk": {"N": "1"}}),
            false,
            "limit of2048 bytes",
        ),
    ] {
        let e = t.key_of(&item(v.clone()), exact).unwrap_err();
        assert!(e.message.contains(needle), "{v}: {e}");
    }
}

#[test]
fn storage_keys_are_readable_and_distinct() {
    let t = orders();
    let key = |pk: &str, sk: &str| {
        t.item_key(&map_from_json(&json!({"pk": {"S": pk}, "sk": {"N": sk}})).unwrap())
    };
    assert_eq!(key("alice", "1.50"), r#"ddb/orders/S"alice"/N1.5"#);
    assert_ne!(key("a/b", "1"), key("a", "1"));
    assert_ne!(key("a\"", "1"), key("a", "1"));
    assert_eq!(key("a", "1.0"), key("a", "1"), "equal numbers are one key");
    assert!(key("alice", "1").starts_with(&t.item_prefix()));
}

fn ctx<'a>(regions: &'a [String], strong: bool, witness: Option<&'a str>) -> Context<'a> {
    Context {
        region: "us-east-1",
        regions,
        now_s: 1.0,
        strong,
        witness,
    }
}

#[test]
fn an_mrsc_description_says_strong_and_lists_the_witness_apart() {
    let regions: Vec<String> = ["eu-west-1", "us-east-1", "us-west-2"]
        .map(String::from)
        .to_vec();
    let d = orders().describe(&ctx(&regions, true, Some("us-west-2")), "ACTIVE", None);
    assert_eq!(d["MultiRegionConsistency"], "STRONG");
    assert_eq!(
        d["Replicas"],
        json!([{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}])
    );
    assert_eq!(
        d["GlobalTableWitnesses"],
        json!([{"RegionName": "us-west-2", "WitnessStatus": "ACTIVE"}])
    );
    let eventual = orders().describe(&ctx(&regions, false, None), "ACTIVE", None);
    assert!(eventual.get("MultiRegionConsistency").is_none());
    assert!(eventual.get("GlobalTableWitnesses").is_none());
}

#[test]
fn the_description_names_every_other_region_as_a_replica() {
    let regions = vec!["eu-west-1".into(), "us-east-1".into()];
    let d = orders().describe(&ctx(&regions, false, None), "ACTIVE", None);
    assert_eq!(d["GlobalTableVersion"], "2019.11.21");
    assert_eq!(
        d["Replicas"],
        json!([{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}])
    );
    assert_eq!(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        d["TableArn"],
        "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
    );
}
