//! Operation tests over an in-memory replica: tables, conditional writes, ReturnValues, Query
//! order and paging, Scan segments, batches and transactions — each checked as DynamoDB
//! answers it, with no network.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};

use super::*;

/// A replica in a map.
#[derive(Default)]
struct Mem(BTreeMap<String, Arc<[u8]>>);

impl Txn for Mem {
    fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        self.0.get(key).cloned()
    }
    fn scan(&self, prefix: &str) -> Vec<(String, Arc<[u8]>)> {
        self.0
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    fn put(&mut self, key: &str, value: Vec<u8>) -> Result<()> {
        self.0.insert(key.to_owned(), Arc::from(value));
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<()> {
        self.0.remove(key);
        Ok(())
    }
}

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

fn call(txn: &mut Mem, op: &str, body: Value) -> Result<Value> {
    call_in(txn, op, body, false)
}

fn call_in(txn: &mut Mem, op: &str, body: Value, strong: bool) -> Result<Value> {
    let regions: Vec<String> = REGIONS.iter().map(|r| r.to_string()).collect();
    let ctx = Context {
        region: "us-east-1",
        regions: &regions,
        now_s: 1.0,
        strong,
        witness: None,
    };
    run(op, &body, &ctx, txn)
}

#[test]
fn an_mrsc_table_refuses_transactions_ttl_and_lsis_and_runs_the_rest() {
    let mut m = with_table(None);
    for op in ["TransactWriteItems", "TransactGetItems", "UpdateTimeToLive"] {
        let e = call_in(&mut m, op, json!({"TransactItems": []}), true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{op}: {e}");
        assert!(
            e.message
                .ends_with("not supported for global tables configured for multi-Region strong consistency (MRSC)"),
            "{op}: {e}"
        );
    }
    let lsi = json!({"TableName": "withlsi",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        "LocalSecondaryIndexes": [{"IndexName": "i", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}],
        "BillingMode": "PAY_PER_REQUEST"});
    let e = call_in(&mut m, "CreateTable", lsi, true).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation, "{e}");
    assert!(e.message.starts_with("Local secondary indexes (LSIs) are not supported for global tables configured for multi-Region strong consistency"), "{e}");
    let put = json!({"TableName": "t1x", "Item": {"pk": {"S": "a"}}});
    call_in(&mut m, "PutItem", put, true).unwrap();
    let d = call_in(&mut m, "DescribeTable", json!({"TableName": "t1x"}), true).unwrap();
    assert_eq!(d["Table"]["MultiRegionConsistency"], "STRONG");
}

fn ok(txn: &mut Mem, op: &str, body: Value) -> Value {
    call(txn, op, body.clone()).unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

fn err(txn: &mut Mem, op: &str, body: Value) -> DynamoError {
    call(txn, op, body.clone()).expect_err(&format!("{op} {body} should fail"))
}

fn with_table(sort: Option<&str>) -> Mem {
    let mut m = Mem::default();
    let mut schema = vec![json!({"AttributeName": "pk", "KeyType": "HASH"})];
    let mut defs = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
    if let Some(t) = sort {
        schema.push(json!({"AttributeName": "sk", "KeyType": "RANGE"}));
        defs.push(json!({"AttributeName": "sk", "AttributeType": t}));
    }
    ok(
        &mut m,
        "CreateTable",
        json!({"TableName": "t1x", "KeySchema": schema, "AttributeDefinitions": defs, "BillingMode": "PAY_PER_REQUEST"}),
    );
    m
}

#[test]
fn tables_are_created_listed_described_and_deleted() {
    let mut m = with_table(None);
    let e = err(
        &mut m,
        "CreateTable",
        json!({"TableName": "t1x", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}),
    );
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::ResourceInUse, "Table already exists: t1x")
    );
    ok(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": {"pk": {"S": "a"}}}),
    );
    let d = ok(&mut m, "DescribeTable", json!({"TableName": "t1x"}));
    assert_eq!(d["Table"]["ItemCount"], 1);
    assert_eq!(
        ok(&mut m, "ListTables", json!({}))["TableNames"],
        json!(["t1x"])
    );
    ok(
        &mut m,
        "UpdateTable",
        json!({"TableName": "t1x", "ReplicaUpdates": [{"Create": {"RegionName": "eu-west-1"}}]}),
    );
    let e = err(
        &mut m,
        "UpdateTable",
        json!({"TableName": "t1x", "ReplicaUpdates": [{"Create": {"RegionName": "mars-1"}}]}),
    );
    assert!(
        e.message.contains("not a region of this Meridian cluster"),
        "{e}"
    );
    let d = ok(&mut m, "DeleteTable", json!({"TableName": "t1x"}));
    assert_eq!(d["TableDescription"]["TableStatus"], "DELETING");
    assert!(
        m.0.is_empty(),
        "the description and every item are gone: {:?}",
        m.0.keys()
    );
    assert_eq!(
        err(&mut m, "DescribeTable", json!({"TableName": "t1x"})).kind,
        ErrorKind::ResourceNotFound
    );
    assert_eq!(
        err(&mut m, "Explode", json!({})).kind,
        ErrorKind::UnknownOperation
    );
}

#[test]
fn conditional_writes_and_return_values() {
    let mut m = with_table(None);
    let item = json!({"pk": {"S": "k"}, "n": {"N": "1"}});
    ok(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}),
    );
    let e = err(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}),
    );
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::ConditionalCheckFailed,
            "The conditional request failed"
        )
    );
    let r = ok(
        &mut m,
        "UpdateItem",
        json!({"TableName": "t1x", "Key": {"pk": {"S": "k"}}, "UpdateExpression": "SET n = n + :one, s = :s", "ExpressionAttributeValues": {":one": {"N": "1"}, ":s": {"S": "x"}}, "ReturnValues": "UPDATED_NEW"}),
    );
    assert_eq!(r["Attributes"], json!({"n": {"N": "2"}, "s": {"S": "x"}}));
    let r = ok(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": {"pk": {"S": "k"}}, "ReturnValues": "ALL_OLD"}),
    );
    assert_eq!(r["Attributes"]["n"], json!({"N": "2"}));
    let e = err(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": item, "ReturnValues": "ALL_NEW"}),
    );
    assert!(
        e.message
            .contains("ReturnValues can only be ALL_OLD or NONE"),
        "{e}"
    );
    let e = err(
        &mut m,
        "UpdateItem",
        json!({"TableName": "t1x", "Key": {"pk": {"S": "k"}}, "UpdateExpression": "SET pk = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}}),
    );
    assert!(
        e.message
            .contains("Cannot update attribute pk. This attribute is part of the key"),
        "{e}"
    );
    let e = err(
        &mut m,
        "GetItem",
        json!({"TableName": "t1x", "Key": {"pk": {"S": "k"}}, "ExpressionAttributeNames": {"#a": "a"}}),
    );
    assert!(
        e.message
            .contains("can only be specified when using expressions"),
        "{e}"
    );
    let e = err(
        &mut m,
        "GetItem",
        json!({"TableName": "t1x", "Key": {"pk": {"S": "k"}}, "ProjectionExpression": "pk", "ExpressionAttributeNames": {"#a": "a"}}),
    );
    assert!(
        e.message.contains("unused in expressions: keys: {#a}"),
        "{e}"
    );
    let r = ok(
        &mut m,
        "DeleteItem",
        json!({"TableName": "t1x", "Key": {"pk": {"S": "k"}}, "ReturnValues": "ALL_OLD"}),
    );
    assert_eq!(r["Attributes"]["pk"], json!({"S": "k"}));
    assert_eq!(
        ok(
            &mut m,
            "GetItem",
            json!({"TableName": "t1x", "Key": {"pk": {"S": "k"}}})
        ),
        json!({})
    );
}

fn sort_keys(r: &Value) -> Vec<String> {
    r["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sk"]["N"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn query_is_in_numeric_sort_key_order_and_pages_resume_after_the_last_key() {
    let mut m = with_table(Some("N"));
    for sk in ["10", "-2", "3.5", "100", "0", "2"] {
        ok(
            &mut m,
            "PutItem",
            json!({"TableName": "t1x", "Item": {"pk": {"S": "p"}, "sk": {"N": sk}}}),
        );
    }
    ok(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": {"pk": {"S": "p2"}, "sk": {"N": "1"}}}),
    );
    let q = |m: &mut Mem, extra: Value| {
        let mut body = json!({"TableName": "t1x", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        ok(m, "Query", body)
    };
    assert_eq!(
        sort_keys(&q(&mut m, json!({}))),
        ["-2", "0", "2", "3.5", "10", "100"]
    );
    assert_eq!(
        sort_keys(&q(&mut m, json!({"ScanIndexForward": false}))),
        ["100", "10", "3.5", "2", "0", "-2"]
    );
    let first = q(&mut m, json!({"Limit": 4}));
    assert_eq!(sort_keys(&first), ["-2", "0", "2", "3.5"]);
    let next = q(
        &mut m,
        json!({"Limit": 4, "ExclusiveStartKey": first["LastEvaluatedKey"]}),
    );
    assert_eq!(sort_keys(&next), ["10", "100"]);
    assert!(next.get("LastEvaluatedKey").is_none());
    // A start key whose item is gone still resumes after its position.
    let gone = q(
        &mut m,
        json!({"ExclusiveStartKey": {"pk": {"S": "p"}, "sk": {"N": "5"}}}),
    );
    assert_eq!(sort_keys(&gone), ["10", "100"]);
    let counted = q(
        &mut m,
        json!({"Select": "COUNT", "FilterExpression": "sk > :z", "ExpressionAttributeValues": {":p": {"S": "p"}, ":z": {"N": "0"}}}),
    );
    assert_eq!(
        (
            counted["Count"].as_u64(),
            counted["ScannedCount"].as_u64(),
            counted.get("Items")
        ),
        (Some(4), Some(6), None)
    );
    let e = err(&mut m, "Query", json!({"TableName": "t1x"}));
    assert!(
        e.message
            .contains("KeyConditionExpression parameter must be specified"),
        "{e}"
    );
}

#[test]
fn scan_segments_partition_the_table() {
    let mut m = with_table(None);
    for i in 0..40 {
        ok(
            &mut m,
            "PutItem",
            json!({"TableName": "t1x", "Item": {"pk": {"S": format!("k{i}")}}}),
        );
    }
    let mut total = 0;
    for s in 0..3 {
        let r = ok(
            &mut m,
            "Scan",
            json!({"TableName": "t1x", "Segment": s, "TotalSegments": 3}),
        );
        total += r["Count"].as_u64().unwrap();
    }
    assert_eq!(total, 40);
    let e = err(
        &mut m,
        "Scan",
        json!({"TableName": "t1x", "Segment": 3, "TotalSegments": 3}),
    );
    assert!(
        e.message
            .contains("must be less than parameter TotalSegments"),
        "{e}"
    );
}

#[test]
fn a_transaction_writes_all_or_nothing_and_names_its_reasons() {
    let mut m = with_table(None);
    let put = |k: &str| json!({"Put": {"TableName": "t1x", "Item": {"pk": {"S": k}}}});
    let check_missing = json!({"ConditionCheck": {"TableName": "t1x", "Key": {"pk": {"S": "nope"}}, "ConditionExpression": "attribute_exists(pk)"}});
    let e = err(
        &mut m,
        "TransactWriteItems",
        json!({"TransactItems": [put("a"), check_missing]}),
    );
    assert_eq!(e.kind, ErrorKind::TransactionCanceled);
    assert_eq!(
        e.message,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    );
    assert!(
        m.get("ddb/t1x/S\"a\"").is_none(),
        "nothing of a cancelled transaction is written"
    );
    ok(
        &mut m,
        "TransactWriteItems",
        json!({"TransactItems": [put("a"), put("b")]}),
    );
    let e = err(
        &mut m,
        "TransactWriteItems",
        json!({"TransactItems": [put("c"), put("c")]}),
    );
    assert!(e.message.contains("multiple operations on one item"), "{e}");
    let r = ok(
        &mut m,
        "TransactGetItems",
        json!({"TransactItems": [{"Get": {"TableName": "t1x", "Key": {"pk": {"S": "a"}}}}, {"Get": {"TableName": "t1x", "Key": {"pk": {"S": "zz"}}}}]}),
    );
    assert_eq!(r["Responses"], json!([{"Item": {"pk": {"S": "a"}}}, {}]));
}

#[test]
fn batches_validate_everything_before_writing_anything() {
    let mut m = with_table(None);
    let e = err(
        &mut m,
        "BatchWriteItem",
        json!({"RequestItems": {"t1x": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}}}},
            {"PutRequest": {"Item": {"pk": {"S": "a"}}}}
        ]}}),
    );
    assert!(e.message.contains("contains duplicates"), "{e}");
    assert!(m.get("ddb/t1x/S\"a\"").is_none());
    let r = ok(
        &mut m,
        "BatchWriteItem",
        json!({"RequestItems": {"t1x": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}, {"DeleteRequest": {"Key": {"pk": {"S": "zz"}}}}]}}),
    );
    assert_eq!(r, json!({"UnprocessedItems": {}}));
    let r = ok(
        &mut m,
        "BatchGetItem",
        json!({"RequestItems": {"t1x": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "zz"}}]}}}),
    );
    assert_eq!(
        r,
        json!({"Responses": {"t1x": [{"pk": {"S": "a"}}]}, "UnprocessedKeys": {}})
    );
}

#[test]
fn legacy_parameters_mean_what_their_expressions_mean() {
    let mut m = with_table(Some("N"));
    let key = json!({"pk": {"S": "p"}, "sk": {"N": "1"}});
    let expected_absent = json!({"pk": {"Exists": false}});
    ok(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}, "a": {"S": "x"}, "b": {"N": "5"}}, "Expected": expected_absent}),
    );
    let e = err(
        &mut m,
        "PutItem",
        json!({"TableName": "t1x", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}}, "Expected": expected_absent}),
    );
    assert_eq!(e.kind, ErrorKind::ConditionalCheckFailed);
    let r = ok(
        &mut m,
        "GetItem",
        json!({"TableName": "t1x", "Key": key, "AttributesToGet": ["a"]}),
    );
    assert_eq!(r["Item"], json!({"a": {"S": "x"}}));
    let r = ok(
        &mut m,
        "UpdateItem",
        json!({"TableName": "t1x", "Key": key, "AttributeUpdates": {
        "a": {"Action": "DELETE"}, "b": {"Action": "ADD", "Value": {"N": "2"}}, "c": {"Value": {"S": "new"}}
    }, "Expected": {"b": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "5"}]}}, "ReturnValues": "ALL_NEW"}),
    );
    assert_eq!(
        r["Attributes"],
        json!({"pk": {"S": "p"}, "sk": {"N": "1"}, "b": {"N": "7"}, "c": {"S": "new"}})
    );
    for sk in ["2", "3", "4"] {
        ok(
            &mut m,
            "PutItem",
            json!({"TableName": "t1x", "Item": {"pk": {"S": "p"}, "sk": {"N": sk}, "b": {"N": sk}}}),
        );
    }
    let r = ok(
        &mut m,
        "Query",
        json!({"TableName": "t1x", "KeyConditions": {
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "4"}]}
    }, "QueryFilter": {"b": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "2"}]}}}),
    );
    assert_eq!(sort_keys(&r), ["3", "4"]);
    let r = ok(
        &mut m,
        "Scan",
        json!({"TableName": "t1x", "ScanFilter": {
        "c": {"ComparisonOperator": "NOT_NULL"}, "b": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "3"}]}
    }, "ConditionalOperator": "OR"}),
    );
    assert_eq!(r["Count"], 2);
    let e = err(
        &mut m,
        "GetItem",
        json!({"TableName": "t1x", "Key": key, "AttributesToGet": ["a"], "ProjectionExpression": "a"}),
    );
    assert!(
        e.message
            .starts_with("Can not use both expression and non-expression parameters"),
        "{e}"
    );
}
