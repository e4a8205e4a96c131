// Revocation through the vault, as the customer does it: disable the set's key (@azure/keyvault-keys
// updateKeyProperties enabled:false, as the vault admin) → the open Read SAS is refused, a new
// grantAccess and a new disk are refused with an error naming the key; re-enable → grantAccess works
// and the data is intact; remove the set's access policy (@azure/arm-keyvault updateAccessPolicy
// remove) → refused again; add it back → works; on an RBAC vault, deleting the set's Key Vault Crypto
// Service Encryption User assignment → refused; assigning it again → works. The latency from the vault call to the first refused
// SAS read is measured by polling the SAS URL every 20 ms.
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_SEED. Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import {
  ROLES, SEED, assignRole, compute, createEmptyDisk, createSet, customerVault, grantPolicy, outcome, readGrant, removePolicy, removeRole,
  sasRead, uploadDisk, verifyData, writesFor,
  runCompute,
} from "./compute-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-revocation";
const prefix = process.env.IRONCLAD_PREFIX || "rev";
const POLL_MS = 20;
const REFUSAL_TIMEOUT_MS = Number(process.env.IRONCLAD_REFUSAL_TIMEOUT_MS || 30_000);

const sleep = ms => new Promise(r => setTimeout(r, ms));

/**
 * Polls the SAS URL every 20 ms from just before vaultCall until a read is refused. Returns the
 * latency from the start of the vault call (and from its answer) to the refused response.
 */
async function measureRefusal(url, vaultCall) {
  const first = await sasRead(url, 0, 512);
  assert.ok(first.status === 206 || first.status === 200, `the SAS reads before the vault call: ${first.status} ${first.text}`);
  let refused = null;
  let polls = 0;
  const started = performance.now();
  let answered = null;
  const poller = (async () => {
    while (!refused && performance.now() - started < REFUSAL_TIMEOUT_MS) {
      // A read cut mid-body by the revocation (connection reset) counts as refused too.
      const response = await sasRead(url, 0, 512).catch(e => ({ status: 0, text: `connection error ${e.code ?? e.message}` }));
      polls++;
      if (response.status !== 206 && response.status !== 200) {
        refused = { at: performance.now(), status: response.status, text: response.text };
        return;
      }
      await sleep(POLL_MS);
    }
  })();
  await vaultCall();
  answered = performance.now();
  await poller;
  if (!refused) return { refused: false, polls, timeoutMs: REFUSAL_TIMEOUT_MS, vaultCallMs: Math.round(answered - started) };
  return {
    refused: true,
    fromCallMs: Math.round((refused.at - started) * 10) / 10,
    fromAnswerMs: Math.round((refused.at - answered) * 10) / 10,
    vaultCallMs: Math.round((answered - started) * 10) / 10,
    polls,
    status: refused.status,
    response: refused.text,
  };
}

/** Retries grantAccess (Read) until it succeeds, for up to timeoutMs; returns {url, afterMs, attempts}. */
async function grantWhenRestored(name, timeoutMs = 10_000) {
  const started = performance.now();
  let attempts = 0;
  let last;
  while (performance.now() - started < timeoutMs) {
    attempts++;
    try {
      const url = await readGrant(rg, name);
      return { url, afterMs: Math.round(performance.now() - started), attempts };
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  assert.fail(`grantAccess on ${name} still refused ${timeoutMs} ms after access returned: ${last?.statusCode} ${last?.code}: ${last?.message}`);
}

runCompute(async () => {
  const result = { seed: SEED };
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault });
  await grantPolicy(vault, set.identity.principalId);
  const writesA = writesFor("revA");
  const writesB = writesFor("revB");
  await uploadDisk(rg, `${prefix}-a`, writesA, { set });
  await uploadDisk(rg, `${prefix}-b`, writesB, { set });
  result.key = { name: key.name, id: key.id, version: key.properties.version };
  result.principalId = set.identity.principalId;

  // ── Disable the key ────────────────────────────────────────────────────────────────────
  let sas = await readGrant(rg, `${prefix}-a`);
  result.disable = await measureRefusal(sas, () => keys.updateKeyProperties(key.name, key.properties.version, { enabled: false }));
  result.disabledGrant = await outcome(readGrant(rg, `${prefix}-b`));
  result.disabledNewDisk = await outcome(createEmptyDisk(rg, `${prefix}-new-disabled`, { set }));
  result.disabledState = (await compute.disks.get(rg, `${prefix}-a`)).diskState;
  await compute.disks.revokeAccess(rg, `${prefix}-a`);

  // ── Re-enable: works again, data intact ───────────────────────────────────────────────
  await keys.updateKeyProperties(key.name, key.properties.version, { enabled: true });
  const restored = await grantWhenRestored(`${prefix}-a`);
  result.enableRestoredAfterMs = restored.afterMs;
  await compute.disks.revokeAccess(rg, `${prefix}-a`);
  result.intactAfterEnable = await verifyData(rg, `${prefix}-a`, writesA) + await verifyData(rg, `${prefix}-b`, writesB);

  // ── Remove the access policy ──────────────────────────────────────────────────────────
  sas = await readGrant(rg, `${prefix}-a`);
  result.policyRemoved = await measureRefusal(sas, () => removePolicy(vault, set.identity.principalId));
  result.policyGrant = await outcome(readGrant(rg, `${prefix}-b`));
  result.policyNewDisk = await outcome(createEmptyDisk(rg, `${prefix}-new-nopolicy`, { set }));
  await compute.disks.revokeAccess(rg, `${prefix}-a`);

  // ── Policy back: works again, data intact ─────────────────────────────────────────────
  await grantPolicy(vault, set.identity.principalId);
  const again = await grantWhenRestored(`${prefix}-b`);
  result.policyRestoredAfterMs = again.afterMs;
  await compute.disks.revokeAccess(rg, `${prefix}-b`);
  result.intactAfterPolicy = await verifyData(rg, `${prefix}-a`, writesA) + await verifyData(rg, `${prefix}-b`, writesB);

  // ── RBAC vault: remove the set's Key Vault Crypto Service Encryption User assignment ──
  const rbac = await customerVault(rg, `${prefix}-kv-rbac`, { rbac: true });
  const rbacKey = await rbac.keys.createRsaKey(`${prefix}-rbac-key`, { keySize: 2048 });
  const rbacSet = await createSet(rg, `${prefix}-des-rbac`, { keyUrl: rbacKey.id, vault: rbac.vault });
  const assignment = await assignRole(rbac.vault.id, rbacSet.identity.principalId, ROLES.cryptoServiceEncryptionUser);
  const writesC = writesFor("revC");
  await uploadDisk(rg, `${prefix}-c`, writesC, { set: rbacSet });
  sas = await readGrant(rg, `${prefix}-c`);
  result.roleRemoved = await measureRefusal(sas, () => removeRole(rbac.vault.id, assignment));
  result.roleGrant = await outcome(readGrant(rg, `${prefix}-c`));
  await compute.disks.revokeAccess(rg, `${prefix}-c`);
  await assignRole(rbac.vault.id, rbacSet.identity.principalId, ROLES.cryptoServiceEncryptionUser);
  const roleBack = await grantWhenRestored(`${prefix}-c`);
  result.roleRestoredAfterMs = roleBack.afterMs;
  await compute.disks.revokeAccess(rg, `${prefix}-c`);
  result.intactAfterRole = await verifyData(rg, `${prefix}-c`, writesC);
  result.rbacKeyName = rbacKey.name;
  return result;
});
