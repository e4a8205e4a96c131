#!/usr/bin/env bash
# The seed document (server-side encryption of managed disks with customer-managed keys), every step in
# `ironclad` CLI form, on a fresh server this script starts (and stops) itself: vault with soft delete and
# purge protection, key, disk encryption set, grant its identity, VM from a marketplace image with CMK
# OS + data disks, an empty CMK disk attached, data written over NBD with qemu-io and the VM's
# certificate, snapshot, custom image, VM from it, scale set with CMK disks, revoke (key disabled, then
# access policy removed) -> VMs stopped and start refused naming the key, restore -> start works and
# the data reads back. Strict: any failure exits non-zero with the step that failed.
#
# Usage: examples/seed-walkthrough.sh
#   IRONCLAD_DLL=path/ironclad.dll   the built CLI/server (default: build src/Ironclad.Host, Debug)
#   IRONCLAD_VAULT_PORTS=A-B         vault ports of the server it starts (default 26440-26449)
#   IRONCLAD_SERVER_DATA=DIR         use the running server with this data directory instead
#   IRONCLAD_LOCATION=westcentralus  the region (the seed's preview region)
set -euo pipefail
cd "$(dirname "$0")/.."

LOCATION="${IRONCLAD_LOCATION:-westcentralus}"
MARKETPLACE_URN="${IRONCLAD_MARKETPLACE_URN:-Canonical:ubuntu-24_04-lts:server:latest}"
DOTNET="${DOTNET_HOST_PATH:-dotnet}"
WORK="$(mktemp -d /tmp/ironclad-seed.XXXXXX)"
SERVER_PID=""
STEP=0
started=$(date +%s)

cleanup() {
  local status=$?
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -f "$WORK/server.log" ]]; then
    echo "--- last lines of the server log" >&2
    tail -n 40 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "seed-walkthrough: FAILED at step $STEP (line $LINENO): $BASH_COMMAND" >&2' ERR

step() { STEP=$((STEP + 1)); printf '\n== [%s %3ss] %s\n' "$STEP" "$(( $(date +%s) - started ))" "$*"; }
fail() { echo "seed-walkthrough: FAILED at step $STEP: $*" >&2; exit 1; }

if [[ -z "${IRONCLAD_DLL:-}" ]]; then
  "$DOTNET" build -v q -nologo src/Ironclad.Host >/dev/null
  IRONCLAD_DLL="$PWD/artifacts/bin/Ironclad.Host/debug/ironclad.dll"
fi
[[ -f "$IRONCLAD_DLL" ]] || fail "IRONCLAD_DLL=$IRONCLAD_DLL does not exist"
for tool in qemu-io python3; do command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install qemu-utils python3)"; done

# Every CLI call is echoed (stderr) before it runs; its JSON goes to stdout for the caller to read.
export IRONCLAD_PROFILE="$WORK/profile.json"
ironclad() { echo "+ ironclad $*" >&2; "$DOTNET" "$IRONCLAD_DLL" "$@"; }
# json PATH: a field of the JSON on stdin ("properties.vmId", "value.0.name"); objects/arrays as JSON.
json() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if isinstance(v, dict) else None
print(json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v))' "$1"
}
expect() { [[ "$2" == "$3" ]] || fail "$1: expected '$3', got '$2'"; }

# power_state show-command...: the PowerState/... code's suffix (running, stopped, ...) of `vm show -d`-like output.
power_state() {
  "$@" -o json 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
codes = [s.get("code", "") for s in (v.get("properties", {}).get("instanceView") or {}).get("statuses", [])]
print(next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), "unknown"))'
}
# wait_power STATE show-command...: polls for up to 20 s.
wait_power() {
  local want="$1"; shift
  local state=""
  for _ in $(seq 1 40); do
    state="$(power_state "$@")"
    [[ "$state" == "$want" ]] && { echo "   power state: $state"; return 0; }
    sleep 0.5
  done
  fail "$* : power state is '$state', expected '$want'"
}

# qemu_io CREDENTIALS_DIR ADDRESS EXPORT COMMAND...: qemu-io over NBD with TLS and the VM's client certificate.
qemu_io() {
  local dir="$1" address="$2" export="$3"; shift 3
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  echo "+ qemu-io ... export=$export ${args[*]}" >&2
  qemu-io --object "tls-creds-x509,id=tls0,endpoint=client,dir=$dir" \
    --image-opts "driver=nbd,host=${address%:*},port=${address##*:},export=$export,tls-creds=tls0" "${args[@]}"
}

# ───────────────────────────────────────────────────────────────────────────────────────────
step "a fresh server (loopback only) and the CLI logged in as its bootstrap administrator"
if [[ -n "${IRONCLAD_SERVER_DATA:-}" ]]; then
  DATA="$IRONCLAD_SERVER_DATA"
else
  DATA="$WORK/data"
  "$DOTNET" "$IRONCLAD_DLL" server --data "$DATA" --port 0 --nbd-port 0 --vault-ports "${IRONCLAD_VAULT_PORTS:-26440-26449}" \
    >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do [[ -f "$DATA/endpoints.json" ]] && break; kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  [[ -f "$DATA/endpoints.json" ]] || fail "the server did not start"
fi
ironclad login --data "$DATA" >/dev/null
CLIENT_ID="$(json clientId <"$DATA/endpoints.json")"
ADMIN_OID="$(ironclad ad sp show --id "$CLIENT_ID" | json id)"
RG="myRGName"
ironclad group create -n "$RG" -l "$LOCATION" >/dev/null

step "create a key vault with soft delete and purge protection (mandatory for disk encryption)"
VAULT="kv$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
vault_json="$(ironclad keyvault create -n "$VAULT" -g "$RG" -l "$LOCATION" --enable-purge-protection)"
VAULT_ID="$(json id <<<"$vault_json")"
expect "enableSoftDelete" "$(json properties.enableSoftDelete <<<"$vault_json")" "True"
expect "enablePurgeProtection" "$(json properties.enablePurgeProtection <<<"$vault_json")" "True"
echo "   vault $VAULT_ID"

step "the vault administrator (us) gets key permissions, and creates an RSA key (software)"
ironclad keyvault set-policy -n "$VAULT" -g "$RG" --object-id "$ADMIN_OID" --key-permissions get list create update delete recover >/dev/null
KID="$(ironclad keyvault key create --vault-name "$VAULT" -n myKeyName --kty RSA --size 2048 | json key.kid)"
echo "   key $KID"

step "create the disk encryption set (system-assigned identity) over the vault and key"
des_json="$(ironclad disk-encryption-set create -n myDiskEncryptionSet1 -g "$RG" -l "$LOCATION" --key-url "$KID" --source-vault "$VAULT" --mi-system-assigned)"
DES_ID="$(json id <<<"$des_json")"
DES_PRINCIPAL="$(json identity.principalId <<<"$des_json")"
[[ -n "$DES_PRINCIPAL" ]] || fail "the set has no identity.principalId"
echo "   set $DES_ID, identity $DES_PRINCIPAL"

step "grant the set's identity get, wrapKey and unwrapKey on the vault (and Reader on it, as the seed does)"
ironclad keyvault set-policy -n "$VAULT" -g "$RG" --object-id "$DES_PRINCIPAL" --key-permissions get wrapKey unwrapKey >/dev/null
ironclad role assignment create --assignee "$DES_PRINCIPAL" --role Reader --scope "$VAULT_ID" >/dev/null

step "the marketplace catalog offers $MARKETPLACE_URN"
ironclad vm image list -l "$LOCATION" -o table
catalog="$(ironclad vm image list -l "$LOCATION")"
grep -q "\"${MARKETPLACE_URN%:*}:" <<<"$catalog" || fail "$MARKETPLACE_URN is not in the catalog"

step "create a VM from a marketplace image, OS and data disks encrypted with the customer-managed key"
vm_json="$(ironclad vm create -n myVMName -g "$RG" -l "$LOCATION" --image "$MARKETPLACE_URN" --size Standard_DS3_V2 \
  --os-disk-encryption-set myDiskEncryptionSet1 --data-disk-sizes-gb 4 --data-disk-encryption-sets myDiskEncryptionSet1 \
  --admin-username azureuser --admin-password "Seed-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')")"
OS_DISK_ID="$(json properties.storageProfile.osDisk.managedDisk.id <<<"$vm_json")"
DATA0_ID="$(json properties.storageProfile.dataDisks.0.managedDisk.id <<<"$vm_json")"
for disk in "$OS_DISK_ID" "$DATA0_ID"; do
  d="$(ironclad disk show -g "$RG" -n "${disk##*/}")"
  expect "${disk##*/} encryption" "$(json properties.encryption.type <<<"$d")" "EncryptionAtRestWithCustomerKey"
  expect "${disk##*/} set" "$(json properties.encryption.diskEncryptionSetId <<<"$d" | tr '[:upper:]' '[:lower:]')" "$(tr '[:upper:]' '[:lower:]' <<<"$DES_ID")"
  expect "${disk##*/} diskState" "$(json properties.diskState <<<"$d")" "Attached"
done
wait_power running ironclad vm show -n myVMName -g "$RG" -d

step "create an empty 30 GiB Premium_LRS disk encrypted with the customer-managed key and attach it at LUN 1"
ironclad disk create -n yourDiskName -g "$RG" -l "$LOCATION" --size-gb 30 --sku Premium_LRS --disk-encryption-set myDiskEncryptionSet1 >/dev/null
ironclad vm disk attach -g "$RG" --vm-name myVMName --name yourDiskName --lun 1 >/dev/null
d="$(ironclad disk show -g "$RG" -n yourDiskName)"
expect "yourDiskName diskState" "$(json properties.diskState <<<"$d")" "Attached"
expect "yourDiskName managedBy" "$(json managedBy <<<"$d" | tr '[:upper:]' '[:lower:]')" "$(ironclad vm show -n myVMName -g "$RG" | json id | tr '[:upper:]' '[:lower:]')"

step "the running VM's disks over NBD: its client certificate, then qemu-io writes to the new disk (TLS)"
CREDS="$WORK/myVMName-nbd"
creds_json="$(ironclad vm nbd-credentials -n myVMName -g "$RG" --out-dir "$CREDS")"
[[ "$(stat -c %a "$CREDS/client-key.pem")" == 600 ]] || fail "client-key.pem is not mode 0600"
grep -q "PRIVATE KEY" "$CREDS/client-key.pem" || fail "client-key.pem holds no private key"
if grep -q "PRIVATE KEY" <<<"$creds_json"; then fail "nbd-credentials printed the private key"; fi
NBD_ADDRESS="$(json nbdAddress <<<"$creds_json")"
LUN1_EXPORT="$(ironclad vm show -n myVMName -g "$RG" -d | python3 -c '
import json, sys
print(next(e["exportName"] for e in json.load(sys.stdin)["nbd"]["exports"] if e.get("lun") == 1))')"
echo "   NBD $NBD_ADDRESS, export $LUN1_EXPORT"
qemu_io "$CREDS" "$NBD_ADDRESS" "$LUN1_EXPORT" "write -P 0x5a 1M 2M" "flush" "read -P 0x5a 1M 2M" | tee "$WORK/qemu-io.out"
if grep -q "verification failed" "$WORK/qemu-io.out"; then fail "qemu-io read back something else"; fi
if qemu-io --image-opts "driver=nbd,host=${NBD_ADDRESS%:*},port=${NBD_ADDRESS##*:},export=$LUN1_EXPORT" -c "read 0 4k" >/dev/null 2>&1; then
  fail "a client without TLS and the VM's certificate reached $LUN1_EXPORT"
fi
echo "   without the certificate: refused"

step "snapshot the VM's OS disk (encrypted with the same customer-managed key)"
snap_json="$(ironclad snapshot create -n mySnapshot -g "$RG" -l "$LOCATION" --source "$OS_DISK_ID")"
SNAPSHOT_ID="$(json id <<<"$snap_json")"
expect "snapshot encryption" "$(json properties.encryption.type <<<"$snap_json")" "EncryptionAtRestWithCustomerKey"

step "create a custom image from the snapshot, encrypted with the customer-managed key"
IMAGE_ID="$(ironclad image create -n myImage -g "$RG" -l "$LOCATION" --source "$SNAPSHOT_ID" --disk-encryption-set myDiskEncryptionSet1 | json id)"
echo "   image $IMAGE_ID"

step "create a VM from the custom image, its OS disk encrypted with the customer-managed key"
vm2_json="$(ironclad vm create -n myVM2 -g "$RG" --image myImage --os-disk-encryption-set myDiskEncryptionSet1)"
d="$(ironclad disk show -g "$RG" -n "$(json properties.storageProfile.osDisk.name <<<"$vm2_json")")"
expect "myVM2 OS disk encryption" "$(json properties.encryption.type <<<"$d")" "EncryptionAtRestWithCustomerKey"
wait_power running ironclad vm show -n myVM2 -g "$RG" -d

step "create a scale set of 2 with customer-key OS and data disks, then scale it out to 3"
ironclad vmss create -n myScaleSet -g "$RG" --image "$MARKETPLACE_URN" --instance-count 2 \
  --os-disk-encryption-set myDiskEncryptionSet1 --data-disk-sizes-gb 2 --data-disk-encryption-sets myDiskEncryptionSet1 >/dev/null
ironclad vmss scale -n myScaleSet -g "$RG" --new-capacity 3 >/dev/null
instances="$(ironclad vmss list-instances -n myScaleSet -g "$RG")"
expect "instances" "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$instances")" "3"
ironclad vmss list-instances -n myScaleSet -g "$RG" -o table
vmss_disks="$(ironclad disk list -g "$RG" | python3 -c '
import json, sys
disks = [d for d in json.load(sys.stdin) if d["name"].lower().startswith("myscaleset_")]
bad = [d["name"] for d in disks if d["properties"]["encryption"]["type"] != "EncryptionAtRestWithCustomerKey"]
print(len(disks) if not bad else "not customer-key: " + " ".join(bad))')"
expect "scale-set disks (OS + data, customer key)" "$vmss_disks" "6"
wait_power running ironclad vmss get-instance-view -n myScaleSet -g "$RG" -i 2

step "revoke: disable the key -> every VM with a disk under it is stopped"
ironclad keyvault key set-attributes --vault-name "$VAULT" -n myKeyName --enabled false >/dev/null
wait_power stopped ironclad vm show -n myVMName -g "$RG" -d
wait_power stopped ironclad vm show -n myVM2 -g "$RG" -d
wait_power stopped ironclad vmss get-instance-view -n myScaleSet -g "$RG" -i 0
ironclad vm show -n myVMName -g "$RG" -d | python3 -c '
import json, sys
s = [s for s in json.load(sys.stdin)["properties"]["instanceView"]["statuses"] if s["code"].startswith("KeyAccess/")]
print("   status:", s[0]["code"], "-", s[0].get("message", "")) if s else sys.exit("no KeyAccess/... status on the stopped VM")'
if qemu_io "$CREDS" "$NBD_ADDRESS" "$LUN1_EXPORT" "read 0 4k" >/dev/null 2>&1; then fail "the stopped VM's disk is still served over NBD"; fi
echo "   NBD: the export is gone"

step "start is refused, naming the key, while it is disabled"
if ironclad vm start -n myVMName -g "$RG" 2>"$WORK/start.err"; then fail "vm start succeeded with the key disabled"; fi
cat "$WORK/start.err"
grep -q "${KID%/*}" "$WORK/start.err" || fail "the refusal does not name the key ${KID%/*}"

step "restore: enable the key -> start works, and the data written over NBD is there"
ironclad keyvault key set-attributes --vault-name "$VAULT" -n myKeyName --enabled true >/dev/null
ironclad vm start -n myVMName -g "$RG"
ironclad vm start -n myVM2 -g "$RG"
ironclad vmss start -n myScaleSet -g "$RG"
wait_power running ironclad vm show -n myVMName -g "$RG" -d
wait_power running ironclad vmss get-instance-view -n myScaleSet -g "$RG" -i 0
qemu_io "$CREDS" "$NBD_ADDRESS" "$LUN1_EXPORT" "read -P 0x5a 1M 2M" | tee "$WORK/qemu-io.out"
if grep -q "verification failed" "$WORK/qemu-io.out"; then fail "the data did not survive the revocation"; fi

step "revoke the other way: remove the set identity's access policy -> stopped; grant again -> start works"
ironclad keyvault delete-policy -n "$VAULT" -g "$RG" --object-id "$DES_PRINCIPAL" >/dev/null
wait_power stopped ironclad vm show -n myVM2 -g "$RG" -d
if ironclad vm start -n myVM2 -g "$RG" 2>"$WORK/start.err"; then fail "vm start succeeded without access"; fi
cat "$WORK/start.err"
grep -q "${KID%/*}" "$WORK/start.err" || fail "the refusal does not name the key ${KID%/*}"
ironclad keyvault set-policy -n "$VAULT" -g "$RG" --object-id "$DES_PRINCIPAL" --key-permissions get wrapKey unwrapKey >/dev/null
ironclad vm start -n myVM2 -g "$RG"
ironclad vm start -n myVMName -g "$RG"
wait_power running ironclad vm show -n myVM2 -g "$RG" -d
qemu_io "$CREDS" "$NBD_ADDRESS" "$LUN1_EXPORT" "read -P 0x5a 1M 2M" | tee "$WORK/qemu-io.out"
if grep -q "verification failed" "$WORK/qemu-io.out"; then fail "the data did not survive the second revocation"; fi

step "clean up: scale set and VMs deleted (OS disks shredded, attached data disks detached)"
ironclad vmss delete -n myScaleSet -g "$RG"
ironclad vm delete -n myVM2 -g "$RG"
ironclad vm delete -n myVMName -g "$RG"
expect "yourDiskName after VM delete" "$(ironclad disk show -g "$RG" -n yourDiskName | json properties.diskState)" "Unattached"
if ironclad disk show -g "$RG" -n "${OS_DISK_ID##*/}" >/dev/null 2>&1; then fail "the OS disk (deleteOption Delete) survived its VM"; fi

echo
echo "seed-walkthrough: OK ($STEP steps in $(( $(date +%s) - started )) s)"
