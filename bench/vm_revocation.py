#!/usr/bin/python3
# Key disable → NBD I/O refused, on a running VM's disk export (bench/vm-revocation.sh runs this against
# a fresh `ironclad server`). Sets up a vault, key, disk encryption set and a VM with a customer-key OS
# disk over ARM, takes the VM's NBD credentials, then per trial: enable the key, start the VM, read its
# OS-disk export in a tight loop (libnbd, TLS with the VM certificate), disable the key through the vault
# data plane and time from sending the disable to the first refused read. Loopback only; no secret is printed.
import argparse, json, os, ssl, statistics, sys, threading, time, urllib.parse, urllib.request, uuid
import nbd

API_RG, API_KV, API_COMPUTE, API_DISK, API_KEYS = "2025-04-01", "2024-11-01", "2024-07-01", "2026-03-02", "7.4"


class Arm:
    def __init__(self, endpoints):
        self.e = endpoints
        self.ctx = ssl.create_default_context(cafile=endpoints["caCertificate"])
        self.tokens = {}

    def token(self, scope):
        if scope not in self.tokens:
            body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": self.e["clientId"],
                                           "client_secret": self.e["clientSecret"], "scope": scope}).encode()
            with urllib.request.urlopen(f'{self.e["url"]}/{self.e["tenantId"]}/oauth2/v2.0/token', body, context=self.ctx) as r:
                self.tokens[scope] = json.load(r)["access_token"]
        return self.tokens[scope]

    def call(self, method, url, body=None, scope="https://management.azure.com/.default", ok=(200, 201, 202, 204)):
        if not url.startswith("https://"):
            url = self.e["url"] + url
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": "Bearer " + self.token(scope), "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=300) as r:
                text = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            text, status = e.read(), e.code
        if status not in ok:
            raise RuntimeError(f"{method} {url.split('?')[0]} answered {status}: {text[:400]!r}")
        return json.loads(text) if text else None


def setup(arm, out_dir):
    sub = arm.e["subscriptionId"]
    group = f"/subscriptions/{sub}/resourceGroups/rg-bench"
    arm.call("PUT", f"{group}?api-version={API_RG}", {"location": "eastus"})
    oid = json.loads(__import__("base64").urlsafe_b64decode(arm.token("https://management.azure.com/.default").split(".")[1] + "=="))["oid"]
    vault = arm.call("PUT", f"{group}/providers/Microsoft.KeyVault/vaults/kv-bench?api-version={API_KV}", {
        "location": "eastus", "properties": {"tenantId": arm.e["tenantId"], "sku": {"family": "A", "name": "standard"},
        "enableSoftDelete": True, "softDeleteRetentionInDays": 7, "enablePurgeProtection": True,
        "accessPolicies": [{"tenantId": arm.e["tenantId"], "objectId": oid, "permissions": {"keys": ["get", "list", "create", "update", "wrapKey", "unwrapKey"]}}]}})
    vault_uri = vault["properties"]["vaultUri"].rstrip("/")
    key = arm.call("POST", f"{vault_uri}/keys/bench/create?api-version={API_KEYS}", {"kty": "RSA", "key_size": 2048}, scope="https://vault.azure.net/.default")["key"]["kid"]
    des = arm.call("PUT", f"{group}/providers/Microsoft.Compute/diskEncryptionSets/des-bench?api-version={API_DISK}", {
        "location": "eastus", "identity": {"type": "SystemAssigned"},
        "properties": {"encryptionType": "EncryptionAtRestWithCustomerKey", "activeKey": {"keyUrl": key, "sourceVault": {"id": vault["id"]}}}})
    arm.call("PUT", f'{vault["id"]}/accessPolicies/add?api-version={API_KV}', {"properties": {"accessPolicies": [
        {"tenantId": arm.e["tenantId"], "objectId": des["identity"]["principalId"], "permissions": {"keys": ["get", "wrapKey", "unwrapKey"]}}]}})
    disk = arm.call("PUT", f"{group}/providers/Microsoft.Compute/disks/os-bench?api-version={API_DISK}", {
        "location": "eastus", "sku": {"name": "Premium_LRS"},
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1, "encryption": {"diskEncryptionSetId": des["id"]}}})
    vm_path = f"{group}/providers/Microsoft.Compute/virtualMachines/vm-bench"
    arm.call("PUT", f"{vm_path}?api-version={API_COMPUTE}", {
        "location": "eastus", "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v3"},
        "storageProfile": {"osDisk": {"createOption": "Attach", "osType": "Linux", "managedDisk": {"id": disk["id"]}}}}})
    creds = arm.call("POST", f"{vm_path}/issueNbdCredentials?api-version={API_COMPUTE}", {"validityInHours": 2})
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    for name, field in (("ca-cert.pem", "caCertificate"), ("client-cert.pem", "clientCertificate"), ("client-key.pem", "clientKey")):
        fd = os.open(os.path.join(out_dir, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(creds[field])
    return vm_path, vault_uri, key, creds


def set_key(arm, key, enabled):
    arm.call("PATCH", f"{key}?api-version={API_KEYS}", {"attributes": {"enabled": enabled}}, scope="https://vault.azure.net/.default")


def connect(address, export, cert_dir):
    host, port = address.rsplit(":", 1)
    h = nbd.NBD()
    h.set_tls(nbd.TLS_REQUIRE)
    h.set_tls_certificates(cert_dir)
    h.set_export_name(export)
    h.connect_tcp(host, port)
    return h


def trial(arm, vm_path, key, cert_dir):
    set_key(arm, key, True)
    arm.call("POST", f"{vm_path}/start?api-version={API_COMPUTE}")
    view = arm.call("GET", f"{vm_path}/instanceView?api-version={API_COMPUTE}")
    export = view["nbd"]["exports"][0]["exportName"]
    h = connect(view["nbd"]["address"], export, cert_dir)
    h.pwrite(os.urandom(4096), 0)
    h.flush()
    refused = {}
    started = threading.Event()

    def reader():
        buf_len = 4096
        while True:
            try:
                h.pread(buf_len, 0)
            except nbd.Error as e:
                refused["at"] = time.monotonic()
                refused["errno"] = e.errno
                return
            started.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    started.wait(10)
    sent = time.monotonic()
    set_key(arm, key, False)
    t.join(30)
    if "at" not in refused:
        raise RuntimeError("reads kept succeeding 30 s after the key was disabled")
    h.shutdown()
    # The VM must end stopped (PowerState/stopped with the KeyAccess status).
    for _ in range(100):
        codes = [s["code"] for s in arm.call("GET", f"{vm_path}/instanceView?api-version={API_COMPUTE}")["statuses"]]
        if "PowerState/stopped" in codes:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"VM not stopped after revocation: {codes}")
    return (refused["at"] - sent) * 1000.0, refused["errno"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoints", required=True)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    with open(a.endpoints) as f:
        arm = Arm(json.load(f))
    cert_dir = os.path.join(a.work, "vm-certs")
    vm_path, _, key, _ = setup(arm, cert_dir)
    results = []
    for i in range(a.trials):
        ms, errno = trial(arm, vm_path, key, cert_dir)
        results.append(ms)
        print(f"trial {i + 1}: {ms:.1f} ms (errno {errno})", flush=True)
    results.sort()
    p50 = statistics.median(results)
    p99 = results[min(len(results) - 1, int(round(0.99 * (len(results) - 1))))]
    print(f"key disable -> first NBD read refused over {len(results)} trials: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {results[-1]:.1f} ms")


if __name__ == "__main__":
    main()
