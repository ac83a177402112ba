"""Global-table behaviour an application meets, shown with boto3 against Meridian's DynamoDB
endpoints (the built-in cluster: `meridian cluster up`, then `python3 examples/dynamodb_global_table.py`).

1. A put in us-east-1 shows up in eu-west-1 only after the link's lag.
2. Two UpdateItems of *different* attributes, in two regions at once: last-writer-wins on the
   whole item keeps one of them; the other is lost (and reported by `meridian ctl conflicts`).
3. A conditional put (attribute_not_exists) passes in both regions: each checks its local copy.
"""
import threading
import time

import boto3


def region(name, port):
    return boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name=name,
                        aws_access_key_id="any", aws_secret_access_key="any")


us, eu = region("us-east-1", 8101), region("eu-west-1", 8102)
table = f"carts-{int(time.time())}"


def until(check, deadline_s=10):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.002)
    raise SystemExit("timed out")


def both(f, g):
    a, b = threading.Thread(target=f), threading.Thread(target=g)
    a.start(), b.start(), a.join(), b.join()


us.create_table(TableName=table, KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "user", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST")
until(lambda: table in eu.list_tables()["TableNames"])

# 1. Lag.
start = time.monotonic()
us.put_item(TableName=table, Item={"user": {"S": "ana"}, "items": {"N": "1"}})
first = eu.get_item(TableName=table, Key={"user": {"S": "ana"}})
until(lambda: "Item" in eu.get_item(TableName=table, Key={"user": {"S": "ana"}}))
print(f"1. put in us-east-1; eu-west-1 read right after: {first.get('Item')}; "
      f"there after {(time.monotonic() - start) * 1000:.0f} ms")

# 2. Two UpdateItems on different attributes, one in each region.
key = {"user": {"S": "ben"}}
us.put_item(TableName=table, Item={"user": {"S": "ben"}})
until(lambda: "Item" in eu.get_item(TableName=table, Key=key))
both(lambda: us.update_item(TableName=table, Key=key, UpdateExpression="SET address = :a",
                            ExpressionAttributeValues={":a": {"S": "1 Main St"}}),
     lambda: eu.update_item(TableName=table, Key=key, UpdateExpression="SET phone = :p",
                            ExpressionAttributeValues={":p": {"S": "555-0100"}}))
def settled():
    a = us.get_item(TableName=table, Key=key).get("Item")
    b = eu.get_item(TableName=table, Key=key).get("Item")
    return a if a == b else None
item = until(settled)
print(f"2. us-east-1 SET address, eu-west-1 SET phone, concurrently; both regions now hold: {item}")

# 3. A conditional put that passes in both regions.
claim = {"user": {"S": "coupon-42"}}
results = {}
def claim_in(name, c):
    c.put_item(TableName=table, Item={**claim, "owner": {"S": name}},
               ConditionExpression="attribute_not_exists(#u)", ExpressionAttributeNames={"#u": "user"})
    results[name] = "passed"
both(lambda: claim_in("us-east-1", us), lambda: claim_in("eu-west-1", eu))
until(lambda: us.get_item(TableName=table, Key=claim).get("Item") == eu.get_item(TableName=table, Key=claim).get("Item"))
owner = us.get_item(TableName=table, Key=claim)["Item"]["owner"]["S"]
print(f"3. attribute_not_exists put in both regions: {results}; the coupon ends with {owner}")
print(f"   see the lost writes: meridian ctl --region us-east-1 conflicts  (keys ddb/{table}/...)")
