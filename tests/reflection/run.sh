#!/usr/bin/env bash
# Start one real node on a free loopback port and call it with the reflection-only Python client
# (no .proto files). Needs: the debug binary (cargo build), python3 with grpcio, grpcio-reflection.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/debug/meridian
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
cat > "$dir/cluster.toml" <<TOML
[[region]]
name = "solo"
listen = "127.0.0.1:$port"
TOML
"$bin" node --region solo --cluster "$dir/cluster.toml" > "$dir/node.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do
  "$bin" ctl --cluster "$dir/cluster.toml" --region solo stats > /dev/null 2>&1 && break
  sleep 0.05
done
python3 tests/reflection/client.py "127.0.0.1:$port"
