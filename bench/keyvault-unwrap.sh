#!/usr/bin/env bash
# Key Vault unwrapKey throughput against the hardware limit, in one session: `openssl speed rsa2048`
# (one process, and -multi 2 for both cores), then a Release `ironclad server` on a scratch data
# directory and the load generator (16 concurrent keep-alive HTTPS clients, RSA-2048, RSA-OAEP-256).
# Prints the three rates and the ratios. Only 127.0.0.1 is used. Usage: bench/keyvault-unwrap.sh [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${1:-20}"
CLIENTS="${2:-16}"
WORK="$(mktemp -d /tmp/ironclad-kvbench.XXXXXX)"
SERVER_PID=""
cleanup() { if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT

dotnet build -c Release -v q -nologo src/Ironclad.Host >/dev/null
dotnet build -c Release -v q -nologo bench/Ironclad.Benchmarks >/dev/null

rate() { awk '/^rsa 2048 bits/ { print $6 }'; }
OPENSSL_ONE="$(openssl speed -seconds 10 rsa2048 2>/dev/null | rate)"
OPENSSL_TWO="$(openssl speed -multi 2 -seconds 10 rsa2048 2>/dev/null | rate)"

dotnet artifacts/bin/Ironclad.Host/release/ironclad.dll server --data "$WORK/data" --port 0 --nbd-port 0 \
  --vault-ports 24900-24909 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [[ -f "$WORK/data/endpoints.json" ]] && break; sleep 0.2; done
[[ -f "$WORK/data/endpoints.json" ]] || { cat "$WORK/server.log"; exit 1; }

RESULT="$(dotnet artifacts/bin/Ironclad.Benchmarks/release/Ironclad.Benchmarks.dll keyvault-unwrap \
  --endpoints "$WORK/data/endpoints.json" --concurrency "$CLIENTS" --seconds "$SECONDS_RUN")"
echo "$RESULT"
IRONCLAD="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<<"$RESULT")"
echo "openssl speed rsa2048 (1 process): ${OPENSSL_ONE}/s private ops"
echo "openssl speed -multi 2 rsa2048:     ${OPENSSL_TWO}/s private ops"
awk -v i="$IRONCLAD" -v one="$OPENSSL_ONE" -v two="$OPENSSL_TWO" \
  'BEGIN { printf "ratio ironclad/openssl(1 process) = %.2f; ironclad/openssl(-multi 2) = %.2f\n", i/one, i/two }'
