#!/usr/bin/env bash
# Re-wrap benchmark of disk encryption set rotation: a Release `ironclad server` on a scratch data
# directory (vault ports 25900-25909, loopback only), then bench/rewrap-1000.mjs creates a vault, a key,
# a set with rotationToLatestKeyVersionEnabled and DISKS empty customer-key disks through ARM, rotates the
# key and reports the time until the set's previousKeys is empty (every wrapped DEK under the new
# version). Goal: <= 30 s for 1,000 disks. Usage: bench/rewrap-1000.sh [DISKS] [CREATE_CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
DISKS="${1:-1000}"
CONCURRENCY="${2:-8}"
WORK="$(mktemp -d /tmp/ironclad-rewrap.XXXXXX)"
SERVER_PID=""
cleanup() { if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then dotnet build -c Release -v q -nologo src/Ironclad.Host >/dev/null; fi

dotnet artifacts/bin/Ironclad.Host/release/ironclad.dll server --data "$WORK/data" --port 0 --nbd-port 0 \
  --vault-ports 25900-25909 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do [[ -f "$WORK/data/endpoints.json" ]] && break; sleep 0.2; done
[[ -f "$WORK/data/endpoints.json" ]] || { cat "$WORK/server.log"; exit 1; }

NODE_EXTRA_CA_CERTS="$WORK/data/tls/ca.pem" node bench/rewrap-1000.mjs "$WORK/data/endpoints.json" "$DISKS" "$CONCURRENCY" \
  || { tail -n 50 "$WORK/server.log"; exit 1; }
