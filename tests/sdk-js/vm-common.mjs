// Shared by the vm-*.mjs and vmss-*.mjs scripts: the seed's customer-key setup (vault with soft delete
// and purge protection, RSA key, disk encryption set, the grant), VM bodies as arm-compute 25.1.1 sends
// them, and our extensions the SDK has no method for — the instance view's `nbd` block and POST
// issueNbdCredentials — reached through the SDK client's own pipeline (same bearer token policy).
// Invariant: the client key of issueNbdCredentials is written to a 0600 file and never printed.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDefaultHttpClient, createPipelineRequest } from "@azure/core-rest-pipeline";
import { ARM, SUB } from "./common.mjs";
import { LOCATION, compute, createSet, customerVault, grantPolicy } from "./compute-common.mjs";

export const MARKETPLACE = { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" };
export const MINIMAL_IMAGE = { publisher: "Ironclad", offer: "minimal", sku: "v1", version: "latest" };
export const VM_API_VERSION = "2024-11-01";

const http = createDefaultHttpClient();

/** The seed's customer side: vault (soft delete + purge protection), key, set, grant. */
export async function seedKeySetup(rg, prefix) {
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault });
  await grantPolicy(vault, set.identity.principalId);
  return { vault, keys, key, set };
}

/** A VM body: image (marketplace reference or {id}), CMK OS disk, optional data disks. */
export function vmBody({ image, set, dataDisks = [], computerName = "vm", location = LOCATION }) {
  return {
    location,
    hardwareProfile: { vmSize: "Standard_D2s_v3" },
    storageProfile: {
      imageReference: image,
      osDisk: {
        createOption: "FromImage",
        caching: "ReadWrite",
        deleteOption: "Delete",
        managedDisk: { storageAccountType: "Premium_LRS", diskEncryptionSet: { id: set.id } },
      },
      dataDisks,
    },
    osProfile: { computerName, adminUsername: "azureuser", adminPassword: "Ironclad-Pa55word!" },
    networkProfile: { networkInterfaces: [] },
  };
}

/** Sends one request through the compute client's pipeline (bearer token for ARM); returns {status, json, text}. */
export async function armRequest(method, path, body) {
  const url = `${ARM.replace(/\/$/, "")}${path}${path.includes("?") ? "&" : "?"}api-version=${VM_API_VERSION}`;
  const request = createPipelineRequest({ url, method, body: body === undefined ? undefined : JSON.stringify(body) });
  request.headers.set("Content-Type", "application/json");
  const response = await compute.pipeline.sendRequest(http, request);
  const text = response.bodyAsText ?? "";
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

export function vmPath(rg, name) {
  return `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

export function vmssPath(rg, name) {
  return `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;
}

/**
 * The instance view through the SDK (statuses, disks) plus the raw body the SDK dropped our `nbd`
 * block from (taken from its onResponse hook): {statuses, disks, nbd, power, errors}.
 */
export async function instanceView(rg, name) {
  let raw;
  const view = await compute.virtualMachines.instanceView(rg, name, { onResponse: r => { raw = r; } });
  const body = rawBody(raw);
  return summarizeView(view, body);
}

export function summarizeView(view, body) {
  const statuses = (view.statuses ?? []).map(s => ({ code: s.code, level: s.level, displayStatus: s.displayStatus, message: s.message }));
  const power = statuses.find(s => s.code?.startsWith("PowerState/"))?.code ?? null;
  return { statuses, power, disks: (view.disks ?? []).map(d => d.name), nbd: body?.nbd ?? null };
}

export function rawBody(response) {
  if (!response) return undefined;
  if (response.parsedBody && typeof response.parsedBody === "object") return response.parsedBody;
  const text = response.bodyAsText;
  return text ? JSON.parse(text) : undefined;
}

/**
 * POST issueNbdCredentials (our extension) for a VM path; writes ca-cert.pem, client-cert.pem and
 * client-key.pem (0600) into dir, the layout qemu's tls-creds-x509 and libnbd read. Returns the
 * response without the PEMs.
 */
export async function issueNbdCredentials(path, dir, validityInHours = 24) {
  const { status, json, text } = await armRequest("POST", `${path}/issueNbdCredentials`, { validityInHours });
  assert.equal(status, 200, `issueNbdCredentials: ${status} ${text.slice(0, 400).replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, "<pem>")}`);
  for (const field of ["caCertificate", "clientCertificate", "clientKey"]) {
    assert.match(json[field] ?? "", /-----BEGIN /, `issueNbdCredentials returned no PEM in ${field}`);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "ca-cert.pem"), json.caCertificate);
  writeFileSync(join(dir, "client-cert.pem"), json.clientCertificate);
  writeFileSync(join(dir, "client-key.pem"), json.clientKey, { mode: 0o600 });
  chmodSync(join(dir, "client-key.pem"), 0o600);
  const { caCertificate, clientCertificate, clientKey, ...rest } = json;
  return rest;
}

/** Polls the instance view until its power state is `code` (e.g. "PowerState/stopped"); returns the view and the wait. */
export async function waitForPower(rg, name, code, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const started = Date.now();
  let view;
  while (Date.now() - started < timeoutMs) {
    view = await instanceView(rg, name);
    if (view.power === code) return { view, afterMs: Date.now() - started };
    await new Promise(r => setTimeout(r, intervalMs));
  }
  assert.fail(`${name} did not reach ${code} within ${timeoutMs} ms; last instance view: ${JSON.stringify(view)}`);
}

/** A disk's state as the disks API shows it. */
export async function diskSummary(rg, name) {
  const d = await compute.disks.get(rg, name);
  return {
    name: d.name, id: d.id, diskState: d.diskState, managedBy: d.managedBy ?? null, sizeGB: d.diskSizeGB,
    encryption: d.encryption?.type, setId: d.encryption?.diskEncryptionSetId ?? null,
    createOption: d.creationData?.createOption, imageId: d.creationData?.imageReference?.id ?? null,
  };
}

export function nameOf(id) {
  return id.split("/").pop();
}

/** The outcome of a disk GET by name: its summary, or {missing: true} on 404. */
export async function diskOrMissing(rg, name) {
  try {
    return await diskSummary(rg, name);
  } catch (e) {
    if (e?.statusCode === 404) return { missing: true };
    throw e;
  }
}
