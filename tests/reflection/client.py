#!/usr/bin/env python3
"""A reflection-only gRPC client (what grpcurl does), against a running Meridian node.

It has no .proto files: it lists the services by server reflection, builds the request
messages from the descriptors the server sends, and calls Kv/Put, Kv/Get and Admin/Status.
Exit status 0 when every step worked. Usage: client.py HOST:PORT
"""

import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def call(channel, pool, service, method, request_json):
    svc = pool.FindServiceByName(service)
    m = svc.FindMethodByName(method)
    req_cls = message_factory.GetMessageClass(m.input_type)
    resp_cls = message_factory.GetMessageClass(m.output_type)
    req = json_format.ParseDict(request_json, req_cls())
    rpc = channel.unary_unary(
        f"/{service}/{method}",
        request_serializer=lambda r: r.SerializeToString(),
        response_deserializer=resp_cls.FromString,
    )
    return json_format.MessageToDict(rpc(req, timeout=10))


def main():
    target = sys.argv[1]
    channel = grpc.insecure_channel(target)
    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    for s in ["meridian.v1.Kv", "meridian.v1.Admin", "meridian.v1.Replication", "grpc.health.v1.Health"]:
        assert s in services, f"{s} not listed by reflection: {services}"
    pool = descriptor_pool.DescriptorPool(db)
    put = call(channel, pool, "meridian.v1.Kv", "Put", {"key": "reflected", "value": "aGVsbG8="})
    assert put["writeId"] and put["version"]["region"], put
    got = call(channel, pool, "meridian.v1.Kv", "Get", {"key": "reflected"})
    assert got["found"] and got["writeId"] == put["writeId"], got
    status = call(channel, pool, "meridian.v1.Admin", "Status", {})
    assert int(status["logHead"]) >= 1, status
    print(f"reflection OK: {len(services)} services; Put/Get/Status called by descriptor only")


if __name__ == "__main__":
    main()
