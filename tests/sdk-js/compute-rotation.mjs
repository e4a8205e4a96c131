// Rotation through the vault: keyClient.rotateKey on the key of a set with
// rotationToLatestKeyVersionEnabled → the set's activeKey becomes the new version and previousKeys
// empties (every DEK re-wrapped); every disk and snapshot of the set (and of a double-encryption set
// on the same key) still reads its data through a SAS; then the old version is disabled and every
// disk still opens (no DEK is wrapped under it any more). A manual activeKey change (PATCH to another
// key) does the same, checked by disabling the first key altogether.
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_SEED. Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import {
  ENCRYPTION, SEED, compute, createEmptyDisk, createSet, customerVault, grantPolicy, uploadDisk, verifyData, waitFor,
  writesFor,
  runCompute,
} from "./compute-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-rotation";
const prefix = process.env.IRONCLAD_PREFIX || "rot";

runCompute(async () => {
  const result = { seed: SEED };
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault, rotation: true });
  assert.equal(set.rotationToLatestKeyVersionEnabled, true);
  await grantPolicy(vault, set.identity.principalId);
  const doubleSet = await createSet(rg, `${prefix}-des-double`, { keyUrl: key.id, vault, rotation: true, type: ENCRYPTION.double });
  await grantPolicy(vault, doubleSet.identity.principalId);

  // Disks under the sets: two with data, one empty, a snapshot, a double-encrypted one.
  const data = {};
  for (const [name, s] of [[`${prefix}-d1`, set], [`${prefix}-d2`, set], [`${prefix}-dd`, doubleSet]]) {
    data[name] = writesFor(name);
    await uploadDisk(rg, name, data[name], { set: s });
  }
  await createEmptyDisk(rg, `${prefix}-empty`, { set });
  const d1 = await compute.disks.get(rg, `${prefix}-d1`);
  await compute.snapshots.createOrUpdate(rg, `${prefix}-snap`, {
    location: "eastus", sku: { name: "Standard_LRS" },
    creationData: { createOption: "Copy", sourceResourceId: d1.id },
    encryption: { type: ENCRYPTION.customer, diskEncryptionSetId: set.id },
  });

  async function everyDiskReads() {
    let bytes = 0;
    for (const [name, writes] of Object.entries(data)) bytes += await verifyData(rg, name, writes);
    bytes += await verifyData(rg, `${prefix}-snap`, data[`${prefix}-d1`], "snapshots");
    const url = (await compute.disks.grantAccess(rg, `${prefix}-empty`, { access: "Read", durationInSeconds: 60 })).accessSAS;
    assert.ok(url);
    await compute.disks.revokeAccess(rg, `${prefix}-empty`);
    return bytes;
  }

  // ── Automatic rotation to the latest version ───────────────────────────────────────────
  const started = performance.now();
  const rotated = await keys.rotateKey(key.name);
  assert.notEqual(rotated.properties.version, key.properties.version);
  const seen = [];
  const done = await waitFor("the sets to move to the new key version with previousKeys empty", async () => {
    const [a, b] = await Promise.all([compute.diskEncryptionSets.get(rg, set.name), compute.diskEncryptionSets.get(rg, doubleSet.name)]);
    seen.push((a.previousKeys ?? []).length);
    const ok = s => s.activeKey.keyUrl === rotated.id && (s.previousKeys ?? []).length === 0;
    return ok(a) && ok(b) ? [a, b] : null;
  }, { timeoutMs: 60_000, intervalMs: 50 });
  result.rotation = {
    oldVersion: key.id,
    newVersion: rotated.id,
    activeKey: done[0].activeKey.keyUrl,
    doubleActiveKey: done[1].activeKey.keyUrl,
    lastKeyRotationTimestamp: done[0].lastKeyRotationTimestamp ?? null,
    autoKeyRotationError: done[0].autoKeyRotationError ?? null,
    completedMs: Math.round(performance.now() - started),
    maxPreviousKeysSeen: Math.max(...seen),
  };
  result.readAfterRotation = await everyDiskReads();

  // The old version disabled: nothing needs it any more.
  await keys.updateKeyProperties(key.name, key.properties.version, { enabled: false });
  result.readWithOldVersionDisabled = await everyDiskReads();

  // ── Manual activeKey change to another key ───────────────────────────────────────────────
  const other = await keys.createRsaKey(`${prefix}-key2`, { keySize: 3072 });
  const patched = await compute.diskEncryptionSets.update(rg, set.name, { activeKey: { keyUrl: other.id, sourceVault: { id: vault.id } } });
  assert.equal(patched.activeKey.keyUrl, other.id);
  const manual = await waitFor("the set to re-wrap under the second key", async () => {
    const s = await compute.diskEncryptionSets.get(rg, set.name);
    return s.activeKey.keyUrl === other.id && (s.previousKeys ?? []).length === 0 ? s : null;
  }, { timeoutMs: 60_000, intervalMs: 50 });
  result.manual = { activeKey: manual.activeKey.keyUrl, previousKeysOnPatch: (patched.previousKeys ?? []).map(k => k.keyUrl) };
  // The first key's current version disabled too: only the double set still uses that key.
  await keys.updateKeyProperties(key.name, rotated.properties.version, { enabled: false });
  delete data[`${prefix}-dd`];
  result.readAfterManualChange = await everyDiskReads();
  return result;
});
