// Driver of bench/rewrap-1000.sh: through ARM and the vault's data plane only (plain HTTPS, Node's fetch,
// trusting the server's CA through NODE_EXTRA_CA_CERTS), it creates a vault with purge protection, an
// RSA-2048 key, a user-assigned identity granted get/wrapKey/unwrapKey, a disk encryption set with
// rotationToLatestKeyVersionEnabled, and N empty 1 GiB customer-key disks; then rotates the key and
// measures the time until the set's activeKey is the new version and previousKeys is empty (every
// wrapped DEK re-wrapped). Prints one JSON line. Usage: node rewrap-1000.mjs ENDPOINTS_JSON [DISKS] [CONCURRENCY]
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [endpointsPath, disksArg, concurrencyArg] = process.argv.slice(2);
const endpoints = JSON.parse(readFileSync(endpointsPath, "utf8"));
const DISKS = Number(disksArg ?? 1000);
const CONCURRENCY = Number(concurrencyArg ?? 8);
const ARM = endpoints.url;
const SUB = endpoints.subscriptionId;
const RG = "rg-rewrap-bench";
const GROUP = `/subscriptions/${SUB}/resourceGroups/${RG}`;
const COMPUTE_API = "api-version=2026-03-02";

async function token(scope) {
  const response = await fetch(`${ARM}/${endpoints.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: endpoints.clientId, client_secret: endpoints.clientSecret, scope }),
  });
  if (!response.ok) throw new Error(`token: ${response.status} ${await response.text()}`);
  return (await response.json()).access_token;
}

const armToken = await token("https://management.azure.com/.default");
const vaultToken = await token("https://vault.azure.net/.default");
const adminOid = JSON.parse(Buffer.from(armToken.split(".")[1], "base64url").toString()).oid;

async function call(base, bearer, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const arm = (method, path, body) => call(ARM, armToken, method, path, body);

await arm("PUT", `/subscriptions/${SUB}/resourcegroups/${RG}?api-version=2025-04-01`, { location: "eastus" });
const vault = await arm("PUT", `${GROUP}/providers/Microsoft.KeyVault/vaults/rewrap-kv?api-version=2026-02-01`, {
  location: "eastus",
  properties: {
    tenantId: endpoints.tenantId, sku: { family: "A", name: "standard" }, enableSoftDelete: true, softDeleteRetentionInDays: 7,
    enablePurgeProtection: true,
    accessPolicies: [{ tenantId: endpoints.tenantId, objectId: adminOid, permissions: { keys: ["get", "create", "rotate", "update", "wrapKey", "unwrapKey"] } }],
  },
});
const vaultUri = vault.properties.vaultUri.replace(/\/$/, "");
const key = await call(vaultUri, vaultToken, "POST", "/keys/rewrap-key/create?api-version=7.4", { kty: "RSA", key_size: 2048 });
const uai = await arm("PUT", `${GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/rewrap-uai?api-version=2023-01-31`, { location: "eastus" });
await arm("PUT", `${GROUP}/providers/Microsoft.KeyVault/vaults/rewrap-kv/accessPolicies/add?api-version=2026-02-01`, {
  properties: { accessPolicies: [{ tenantId: endpoints.tenantId, objectId: uai.properties.principalId, permissions: { keys: ["get", "wrapKey", "unwrapKey"] } }] },
});
const setPath = `${GROUP}/providers/Microsoft.Compute/diskEncryptionSets/rewrap-des?${COMPUTE_API}`;
const set = await arm("PUT", setPath, {
  location: "eastus",
  identity: { type: "UserAssigned", userAssignedIdentities: { [uai.id]: {} } },
  properties: {
    encryptionType: "EncryptionAtRestWithCustomerKey", rotationToLatestKeyVersionEnabled: true,
    activeKey: { keyUrl: key.key.kid, sourceVault: { id: vault.id } },
  },
});

// N empty customer-key disks, CONCURRENCY at a time.
const createStarted = performance.now();
let next = 0;
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < DISKS) {
    const i = next++;
    await arm("PUT", `${GROUP}/providers/Microsoft.Compute/disks/rewrap-d${i}?${COMPUTE_API}`, {
      location: "eastus", sku: { name: "Premium_LRS" },
      properties: { creationData: { createOption: "Empty" }, diskSizeGB: 1, encryption: { type: "EncryptionAtRestWithCustomerKey", diskEncryptionSetId: set.id } },
    });
  }
}));
const createSeconds = (performance.now() - createStarted) / 1000;
const associated = await arm("GET", `${GROUP}/providers/Microsoft.Compute/diskEncryptionSets/rewrap-des/associatedResources?${COMPUTE_API}`);
let associatedCount = associated.value.length;
for (let link = associated.nextLink; link; ) {
  const page = await call("", armToken, "GET", link);
  associatedCount += page.value.length;
  link = page.nextLink;
}

// Rotate, then poll the set until every DEK is under the new version.
const rotateStarted = performance.now();
const rotated = await call(vaultUri, vaultToken, "POST", "/keys/rewrap-key/rotate?api-version=7.4");
let activeMovedMs = null;
let polls = 0;
while (true) {
  const current = await arm("GET", setPath);
  polls++;
  const properties = current.properties;
  if (properties.autoKeyRotationError) throw new Error(`rotation error: ${JSON.stringify(properties.autoKeyRotationError)}`);
  if (properties.activeKey.keyUrl === rotated.key.kid) {
    activeMovedMs ??= performance.now() - rotateStarted;
    if (properties.previousKeys.length === 0) break;
  }
  if (performance.now() - rotateStarted > 600_000) throw new Error("no completion within 600 s");
  await new Promise(resolve => setTimeout(resolve, 50));
}
const rewrapSeconds = (performance.now() - rotateStarted) / 1000;
console.log(JSON.stringify({
  disks: DISKS, associatedResources: associatedCount, createConcurrency: CONCURRENCY,
  createSeconds: +createSeconds.toFixed(2), createPerSecond: +(DISKS / createSeconds).toFixed(1),
  oldKey: key.key.kid, newKey: rotated.key.kid,
  activeKeyMovedMs: Math.round(activeMovedMs), rewrapSeconds: +rewrapSeconds.toFixed(2),
  rewrapPerSecond: +(DISKS / rewrapSeconds).toFixed(1), polls,
}));
