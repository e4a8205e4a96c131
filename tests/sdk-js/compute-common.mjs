// Shared by the compute-*.mjs scripts: the customer's side of disk encryption as the seed tells it —
// a vault with soft delete and purge protection (@azure/arm-keyvault), an RSA key (@azure/keyvault-keys),
// a disk encryption set whose managed identity the vault admin grants (access policy, or the Key Vault
// Crypto Service Encryption User role through @azure/arm-authorization), disks through @azure/arm-compute
// 25.1.1, and the SAS data path (page-blob style: ranged GET, PUT ?comp=page) over node:https.
// Known data is derived from IRONCLAD_SEED (the C# side prints it on failure) so a run can be replayed.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { request } from "node:https";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ComputeManagementClient } from "@azure/arm-compute";
import { ResourceManagementClient } from "@azure/arm-resources";
import { ARM, SUB, TENANT, MANAGEMENT_SCOPE, cred, collect, expectError, run } from "./common.mjs";
import { ALL_KEY_PERMISSIONS, cryptoClient, keyClient, kvm, objectId } from "./keys-common.mjs";

export { collect, expectError, cryptoClient, keyClient, kvm, objectId };

export const LOCATION = "eastus";
export const compute = new ComputeManagementClient(cred, SUB, { endpoint: ARM });
export const auth = new AuthorizationManagementClient(cred, SUB, { endpoint: ARM, credentialScopes: [MANAGEMENT_SCOPE] });
export const rm = new ResourceManagementClient(cred, SUB, { endpoint: ARM });

export const ROLES = {
  cryptoOfficer: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
  cryptoServiceEncryptionUser: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
};

/** What a set's identity needs on the key (seed: "wrapkey,unwrapkey,get"). */
export const SET_KEY_PERMISSIONS = ["get", "wrapKey", "unwrapKey"];

export const ENCRYPTION = {
  platform: "EncryptionAtRestWithPlatformKey",
  customer: "EncryptionAtRestWithCustomerKey",
  double: "EncryptionAtRestWithPlatformAndCustomerKeys",
};

/**
 * Like common.mjs run, but a failure also prints its stack and, for an SDK error, the ARM request
 * (method and URL: ARM URLs only — SAS requests never raise SDK errors) on stderr, for the C# log.
 */
export function runCompute(main) {
  return run(async () => {
    try {
      return await main();
    } catch (e) {
      const request = e?.request ? `\n  during ${e.request.method} ${e.request.url}` : "";
      process.stderr.write(`${e?.stack ?? e}${request}\n`);
      throw e;
    }
  });
}

/** The seed of this run's known data (IRONCLAD_SEED, else a fresh one that the script reports). */
export const SEED = process.env.IRONCLAD_SEED || randomUUID();

/** Deterministic, high-entropy bytes for (seed, label): SHA-256 in counter mode. */
export function knownData(label, length) {
  const out = Buffer.alloc(length);
  for (let block = 0, at = 0; at < length; block++, at += 32) {
    createHash("sha256").update(`${SEED}|${label}|${block}`).digest().copy(out, at);
  }
  return out;
}

export async function resourceGroup(name, location = LOCATION) {
  await rm.resourceGroups.createOrUpdate(name, { location });
}

/**
 * A vault for customer keys (soft delete always; purge protection unless told otherwise). With
 * access policies the administrator gets every key permission; with RBAC it assigns itself Key Vault
 * Crypto Officer on the vault. Returns { vault, keys } (keys = a KeyClient as the administrator).
 */
export async function customerVault(rg, name, { rbac = false, purgeProtection = true, location = LOCATION, policies = [] } = {}) {
  await resourceGroup(rg, location);
  const adminOid = await objectId();
  const vault = await kvm.vaults.createOrUpdate(rg, name, {
    location,
    properties: {
      tenantId: TENANT,
      sku: { family: "A", name: "standard" },
      accessPolicies: rbac ? [] : [{ tenantId: TENANT, objectId: adminOid, permissions: { keys: ALL_KEY_PERMISSIONS } }, ...policies],
      enableSoftDelete: true,
      softDeleteRetentionInDays: 7,
      enablePurgeProtection: purgeProtection || undefined,
      enableRbacAuthorization: rbac,
      enabledForDiskEncryption: true,
    },
  });
  assert.match(vault.properties.vaultUri, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  if (rbac) await assignRole(vault.id, adminOid, ROLES.cryptoOfficer);
  return { vault, keys: keyClient(vault.properties.vaultUri) };
}

/** Assigns a built-in role at a scope (an ARM id) to a service principal; returns the assignment name. */
export async function assignRole(scope, principalId, roleGuid) {
  const name = randomUUID();
  await auth.roleAssignments.create(scope.replace(/^\//, ""), name, {
    principalId,
    principalType: "ServicePrincipal",
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
  });
  return name;
}

export async function removeRole(scope, name) {
  await auth.roleAssignments.delete(scope.replace(/^\//, ""), name);
}

/** Adds (or removes) an access-policy entry for the principal, as the vault administrator does. */
export async function grantPolicy(vault, principalId, keys = SET_KEY_PERMISSIONS) {
  const rg = resourceGroupOf(vault.id);
  return kvm.vaults.updateAccessPolicy(rg, vault.name, "add", {
    properties: { accessPolicies: [{ tenantId: TENANT, objectId: principalId, permissions: { keys } }] },
  });
}

export async function removePolicy(vault, principalId) {
  const rg = resourceGroupOf(vault.id);
  return kvm.vaults.updateAccessPolicy(rg, vault.name, "remove", {
    properties: { accessPolicies: [{ tenantId: TENANT, objectId: principalId, permissions: { keys: [] } }] },
  });
}

export function resourceGroupOf(id) {
  return id.split("/")[4];
}

/** A disk encryption set with a system-assigned identity over key (a kid, versioned or not) in vault. */
export function createSet(rg, name, { keyUrl, vault, type = ENCRYPTION.customer, rotation, location = LOCATION, identity = { type: "SystemAssigned" } }) {
  return compute.diskEncryptionSets.createOrUpdate(rg, name, {
    location,
    identity,
    encryptionType: type,
    activeKey: { keyUrl, sourceVault: { id: vault.id } },
    rotationToLatestKeyVersionEnabled: rotation,
  });
}

/** An encryption block for a disk: the set's type (or platform key when no set). */
export function encryptionOf(set) {
  return set ? { type: set.encryptionType, diskEncryptionSetId: set.id } : undefined;
}

export function createEmptyDisk(rg, name, { set, sizeGB = 1, location = LOCATION } = {}) {
  return compute.disks.createOrUpdate(rg, name, {
    location, sku: { name: "Premium_LRS" }, diskSizeGB: sizeGB,
    creationData: { createOption: "Empty" },
    encryption: encryptionOf(set),
  });
}

/** 32 MiB + the 512-byte VHD footer: a size the cloud accepts for Upload. */
export const UPLOAD_SIZE_BYTES = 32 * 1024 * 1024 + 512;

/**
 * An Upload disk written through a Write SAS (PUT ?comp=page), then endGetAccess: the writes are
 * the (offset, data) pairs. Returns the disk as read after the upload.
 */
export async function uploadDisk(rg, name, writes, { set, location = LOCATION } = {}) {
  const created = await compute.disks.createOrUpdate(rg, name, {
    location, sku: { name: "Premium_LRS" },
    creationData: { createOption: "Upload", uploadSizeBytes: UPLOAD_SIZE_BYTES },
    encryption: encryptionOf(set),
  });
  assert.equal(created.diskState, "ReadyToUpload", `${name} after create`);
  const { accessSAS } = await compute.disks.grantAccess(rg, name, { access: "Write", durationInSeconds: 3600 });
  assert.equal((await compute.disks.get(rg, name)).diskState, "ActiveUpload", `${name} during upload`);
  for (const [offset, data] of writes) {
    const put = await sasWrite(accessSAS, offset, data);
    assert.equal(put.status, 201, `PUT page ${offset}+${data.length} on ${name}: ${put.status} ${put.text}`);
  }
  await compute.disks.revokeAccess(rg, name);
  const disk = await compute.disks.get(rg, name);
  assert.equal(disk.diskState, "Unattached", `${name} after endGetAccess`);
  return disk;
}

/** Opens a Read SAS on a disk (kind "disks") or snapshot (kind "snapshots"); returns the URL. */
export async function readGrant(rg, name, kind = "disks") {
  const { accessSAS } = await compute[kind].grantAccess(rg, name, { access: "Read", durationInSeconds: 3600 });
  assert.match(accessSAS, /^https:\/\/127\.0\.0\.1:\d+\//);
  return accessSAS;
}

/** Reads each (offset, data) through a fresh Read SAS and checks it; ends the grant. Returns the bytes compared. */
export async function verifyData(rg, name, writes, kind = "disks") {
  const url = await readGrant(rg, name, kind);
  let compared = 0;
  for (const [offset, data] of writes) {
    const got = await sasRead(url, offset, data.length);
    assert.ok(got.status === 206 || got.status === 200, `GET ${offset}+${data.length} on ${name}: ${got.status} ${got.text}`);
    assert.ok(got.body.equals(data), `${kind}/${name}: the ${data.length} bytes at ${offset} differ from what was written`);
    compared += data.length;
  }
  await compute[kind].revokeAccess(rg, name);
  return compared;
}

/** One HTTPS request to a SAS URL (the CA comes from NODE_EXTRA_CA_CERTS). Never logs the URL. */
export function sasRequest(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, res => {
      const chunks = [];
      res.on("data", c => chunks.push(c));
      res.on("end", () => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: data, text: describeBody(res, data) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function describeBody(res, data) {
  const type = String(res.headers["content-type"] ?? "");
  if (type.includes("octet-stream")) return `<${data.length} bytes>`;
  return `${res.headers["x-ms-error-code"] ?? ""} ${data.toString("utf8").slice(0, 600)}`.trim();
}

export function sasRead(url, offset, length) {
  const range = `bytes=${offset}-${offset + length - 1}`;
  return sasRequest(url, { headers: { "x-ms-range": range, Range: range, "x-ms-version": "2021-08-06" } });
}

export function sasWrite(url, offset, data) {
  assert.equal(offset % 512, 0);
  assert.equal(data.length % 512, 0);
  const pageUrl = `${url}${url.includes("?") ? "&" : "?"}comp=page`;
  return sasRequest(pageUrl, {
    method: "PUT",
    headers: {
      "x-ms-range": `bytes=${offset}-${offset + data.length - 1}`,
      "x-ms-page-write": "update",
      "x-ms-version": "2021-08-06",
      "Content-Type": "application/octet-stream",
      "Content-Length": data.length,
    },
    body: data,
  });
}

/** Standard writes for a disk labelled `label`: 64 KiB at 0, 4 KiB at 1 MiB + 512 (not 4 KiB aligned), 512 B near the end. */
export function writesFor(label) {
  return [
    [0, knownData(`${label}:0`, 64 * 1024)],
    [1024 * 1024 + 512, knownData(`${label}:1`, 4096)],
    [UPLOAD_SIZE_BYTES - 512 - 1024, knownData(`${label}:2`, 512)],
  ];
}

/** The patterns the C# side scans the data directory for: 48-byte slices of every write. */
export function scanPatterns(writes) {
  const patterns = [];
  for (const [, data] of writes) {
    for (let at = 0; at + 48 <= data.length; at += Math.max(48, Math.floor(data.length / 8))) {
      patterns.push(data.subarray(at, at + 48).toString("base64"));
    }
  }
  return patterns;
}

/** Polls fn until it returns a truthy value (or throws after timeoutMs); returns that value. */
export async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise(r => setTimeout(r, intervalMs));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * The outcome of a call that should be refused, without stopping the script when it is not: the
 * refusal {statusCode, code, message}, or {succeeded: true} (the C# side asserts on it).
 */
export async function outcome(promise) {
  try {
    await promise;
    return { succeeded: true };
  } catch (e) {
    if (!(e?.statusCode >= 400)) throw e;
    return { statusCode: e.statusCode, code: e.code, message: e.message };
  }
}

/** A refusal: the promise must reject with an HTTP 4xx; returns {statusCode, code, message}. */
export async function expectRefusal(promise, what) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e.statusCode >= 400 && e.statusCode < 500, `${what}: expected a 4xx refusal, got ${e.statusCode} ${e.code}: ${e.message}`);
    return { statusCode: e.statusCode, code: e.code, message: e.message };
  }
  assert.fail(`${what}: expected a refusal, but it succeeded`);
}
