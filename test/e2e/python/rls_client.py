#!/usr/bin/python3
"""Envoy-style rate limit client on Python's gRPC (a second, non-grpc-js implementation).

Usage (run with Debian's /usr/bin/python3, which sees python3-grpcio):

  rls_client.py --target 127.0.0.1:8081 --stubs DIR rls < calls.json
  rls_client.py --target 127.0.0.1:8081 --stubs DIR signal [--token T] < calls.json
  rls_client.py --target 127.0.0.1:8081 health --service "" --service ratelimit

DIR holds the *_pb2 modules generated from this repository's proto/ by grpc_tools.protoc.

`rls` reads a JSON list of calls from stdin, each
  {"domain": str, "descriptors": [{"entries": [[key, value], ...], "hits_addend"?: int}],
   "hits_addend"?: int}
and prints one JSON line per call: {"overall_code", "statuses", "response_headers"} or
{"grpc_error": status code name, "details": str}. Each status is {"code", "limit_remaining",
"current_limit": {"requests_per_unit", "unit", "name"} | null, "duration_until_reset": seconds
| null}. A descriptor "hits_addend" of 0 is sent as a present UInt64Value (check only).

`signal` reads a JSON list of calls to ratelimit.adaptive.v1.SignalService from stdin, each
  {"rpc": "RecordErrorRate" | "Penalize", "token"?: str, "request": {message fields}}
(request fields as in proto/ratelimit/adaptive/v1/signals.proto), sends `authorization: Bearer
<token>` (the call's token, else --token; none when both are absent) and prints one JSON line
per call: {"ok": true} or {"grpc_error": status code name, "details": str}.

`health` calls /grpc.health.v1.Health/Check with hand-encoded protobuf bytes (Debian's
python3-grpcio has no grpc_health module) and prints {"service", "status"} or a grpc_error.
"""

import argparse
import json
import sys

import grpc

HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def rpc_error(err):
    return {"grpc_error": err.code().name, "details": err.details()}


def build_request(rls_pb2, call):
    request = rls_pb2.RateLimitRequest(domain=call.get("domain", ""), hits_addend=call.get("hits_addend", 0))
    for spec in call.get("descriptors", []):
        descriptor = request.descriptors.add()
        for key, value in spec.get("entries", []):
            descriptor.entries.add(key=key, value=value)
        if "hits_addend" in spec:
            # SetInParent makes the wrapper present even for 0, which means "check only".
            descriptor.hits_addend.SetInParent()
            descriptor.hits_addend.value = spec["hits_addend"]
    return request


def describe_status(rls_pb2, status):
    codes = rls_pb2.RateLimitResponse.Code
    units = rls_pb2.RateLimitResponse.RateLimit.Unit
    limit = None
    if status.HasField("current_limit"):
        current = status.current_limit
        limit = {"requests_per_unit": current.requests_per_unit, "unit": units.Name(current.unit), "name": current.name}
    reset = None
    if status.HasField("duration_until_reset"):
        reset = status.duration_until_reset.seconds + status.duration_until_reset.nanos / 1e9
    return {
        "code": codes.Name(status.code),
        "limit_remaining": status.limit_remaining,
        "current_limit": limit,
        "duration_until_reset": reset,
    }


def run_rls(channel, stubs, timeout):
    sys.path.insert(0, stubs)
    from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc

    stub = rls_pb2_grpc.RateLimitServiceStub(channel)
    for call in json.load(sys.stdin):
        try:
            response = stub.ShouldRateLimit(build_request(rls_pb2, call), timeout=timeout)
        except grpc.RpcError as err:
            emit(rpc_error(err))
            continue
        emit({
            "overall_code": rls_pb2.RateLimitResponse.Code.Name(response.overall_code),
            "statuses": [describe_status(rls_pb2, s) for s in response.statuses],
            "response_headers": [[h.key, h.value] for h in response.response_headers_to_add],
        })


def run_signal(channel, stubs, default_token, timeout):
    sys.path.insert(0, stubs)
    from ratelimit.adaptive.v1 import signals_pb2, signals_pb2_grpc

    stub = signals_pb2_grpc.SignalServiceStub(channel)
    methods = {
        "RecordErrorRate": (stub.RecordErrorRate, signals_pb2.ErrorRateSample),
        "Penalize": (stub.Penalize, signals_pb2.Penalty),
    }
    for call in json.load(sys.stdin):
        method, message = methods[call["rpc"]]
        token = call.get("token", default_token)
        metadata = [("authorization", "Bearer " + token)] if token is not None else []
        try:
            method(message(**call.get("request", {})), metadata=metadata, timeout=timeout)
        except grpc.RpcError as err:
            emit(rpc_error(err))
            continue
        emit({"ok": True})


def encode_health_request(service):
    # HealthCheckRequest { string service = 1; }: tag 0x0a, varint length, UTF-8 bytes.
    data = service.encode("utf-8")
    if not data:
        return b""
    return b"\x0a" + encode_varint(len(data)) + data


def encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data, pos):
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def decode_health_status(data):
    """HealthCheckResponse { ServingStatus status = 1; }; skips unknown fields."""
    status, pos = 0, 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        wire_type = tag & 7
        if wire_type == 0:
            value, pos = read_varint(data, pos)
            if tag >> 3 == 1:
                status = value
        elif wire_type == 2:
            length, pos = read_varint(data, pos)
            pos += length
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError("unsupported wire type %d" % wire_type)
    return HEALTH_STATUS.get(status, str(status))


def run_health(channel, services, timeout):
    check = channel.unary_unary("/grpc.health.v1.Health/Check")  # no serializers: raw bytes
    for service in services:
        try:
            reply = check(encode_health_request(service), timeout=timeout)
        except grpc.RpcError as err:
            emit(dict(rpc_error(err), service=service))
            continue
        emit({"service": service, "status": decode_health_status(reply)})


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port of the gRPC server")
    parser.add_argument("--stubs", help="directory of the generated *_pb2 modules (rls, signal)")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline per call, seconds")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rls", help="ShouldRateLimit calls read as JSON from stdin")
    signal = commands.add_parser("signal", help="SignalService calls read as JSON from stdin")
    signal.add_argument("--token", help="bearer token for calls that name none")
    health = commands.add_parser("health", help="grpc.health.v1.Health/Check")
    health.add_argument("--service", action="append", default=[], help="service name (repeatable)")
    args = parser.parse_args()

    with grpc.insecure_channel(args.target) as channel:
        if args.command in ("rls", "signal") and not args.stubs:
            parser.error(args.command + " needs --stubs")
        if args.command == "rls":
            run_rls(channel, args.stubs, args.timeout)
        elif args.command == "signal":
            run_signal(channel, args.stubs, args.token, args.timeout)
        else:
            run_health(channel, args.service or [""], args.timeout)


if __name__ == "__main__":
    main()
