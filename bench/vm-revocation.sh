#!/usr/bin/env bash
# Key disable → NBD I/O refused on a running VM's disk export, over TRIALS trials (default 20): a Release
# `ironclad server` on a scratch data directory (vault ports 26230-26239, loopback only), then
# bench/vm_revocation.py (python3-libnbd): vault, key, set, VM with a customer-key OS disk, the VM's NBD
# certificate; per trial: enable the key, start the VM, read its export in a tight loop over TLS, disable
# the key through the vault data plane, time from sending the disable to the first refused read.
# Prints every trial and p50/p99. Usage: bench/vm-revocation.sh [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS="${1:-20}"
WORK="$(mktemp -d /tmp/ironclad-vmrevoke.XXXXXX)"
SERVER_PID=""
cleanup() { if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT

/usr/bin/python3 -c 'import nbd' 2>/dev/null || { echo "needs python3-libnbd (apt-get install python3-libnbd)" >&2; exit 2; }
dotnet build -c Release -v q -nologo src/Ironclad.Host >/dev/null

dotnet artifacts/bin/Ironclad.Host/release/ironclad.dll server --data "$WORK/data" --port 0 --nbd-port 0 \
  --vault-ports 26230-26239 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do [[ -f "$WORK/data/endpoints.json" ]] && break; sleep 0.2; done
[[ -f "$WORK/data/endpoints.json" ]] || { cat "$WORK/server.log"; exit 1; }

/usr/bin/python3 bench/vm_revocation.py --endpoints "$WORK/data/endpoints.json" --trials "$TRIALS" --work "$WORK"
