// The ARM shapes of Microsoft.Compute as @azure/arm-compute 25.1.1 sees them (api-compat.md §2): lists by
// resource group and by subscription (every page followed), the 404 envelope (ResourceNotFound /
// ResourceGroupNotFound), PUT 201 then 200, DELETE 200 then 204, endGetAccess 200, PATCH (tags, grow,
// no shrink), associatedResources, and a set in use that cannot be deleted until its disks are gone.
// The HTTP statuses are taken from the SDK's onResponse hook. Env: IRONCLAD_RG, IRONCLAD_PREFIX.
import assert from "node:assert/strict";
import { SUB } from "./common.mjs";
import {
  collect, compute, createSet, customerVault, expectRefusal, grantPolicy, resourceGroup, runCompute,
} from "./compute-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-arm";
const otherRg = `${rg}-other`;
const prefix = process.env.IRONCLAD_PREFIX || "arm";
const DISKS = 7;

/** Options that record the HTTP status of every response of one SDK call. */
function recorder() {
  const statuses = [];
  return { statuses, options: { onResponse: r => statuses.push(r.status) } };
}

runCompute(async () => {
  const result = {};
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault });
  await grantPolicy(vault, set.identity.principalId);
  await resourceGroup(otherRg);

  // PUT: 201 on create, 200 on replace; the canonical id and type.
  const putStatuses = [];
  for (let i = 0; i < DISKS; i++) {
    const r = recorder();
    const disk = await compute.disks.createOrUpdate(i % 2 ? otherRg : rg, `${prefix}-d${i}`, {
      location: "eastus", sku: { name: "StandardSSD_LRS" }, diskSizeGB: 1, tags: { n: String(i) },
      creationData: { createOption: "Empty" },
      encryption: { type: "EncryptionAtRestWithCustomerKey", diskEncryptionSetId: set.id },
    }, r.options);
    putStatuses.push(...r.statuses);
    assert.equal(disk.type, "Microsoft.Compute/disks");
    assert.equal(disk.id, `/subscriptions/${SUB}/resourceGroups/${i % 2 ? otherRg : rg}/providers/Microsoft.Compute/disks/${prefix}-d${i}`);
    assert.equal(disk.diskSizeBytes, 1024 ** 3);
  }
  const replace = recorder();
  const replaced = await compute.disks.createOrUpdate(rg, `${prefix}-d0`, {
    location: "eastus", sku: { name: "StandardSSD_LRS" }, diskSizeGB: 1, tags: { n: "0", replaced: "yes" },
    creationData: { createOption: "Empty" },
    encryption: { type: "EncryptionAtRestWithCustomerKey", diskEncryptionSetId: set.id },
  }, replace.options);
  assert.equal(replaced.tags.replaced, "yes");
  result.put = { create: [...new Set(putStatuses)], replace: replace.statuses };

  // PATCH: tags merge, grow, no shrink.
  const patch = recorder();
  const grown = await compute.disks.update(rg, `${prefix}-d0`, { diskSizeGB: 2, tags: { patched: "1" } }, patch.options);
  assert.equal(grown.diskSizeGB, 2);
  assert.equal(grown.tags.patched, "1");
  result.patch = patch.statuses;
  result.shrink = await expectRefusal(compute.disks.update(rg, `${prefix}-d0`, { diskSizeGB: 1 }), "shrinking a disk");

  // Lists: by group, by subscription, every page.
  const byGroup = (await collect(compute.disks.listByResourceGroup(rg))).map(d => d.name).sort();
  assert.deepEqual(byGroup, Array.from({ length: DISKS }, (_, i) => i).filter(i => i % 2 === 0).map(i => `${prefix}-d${i}`).sort());
  const bySubscription = (await collect(compute.disks.list())).map(d => d.name);
  for (let i = 0; i < DISKS; i++) assert.ok(bySubscription.includes(`${prefix}-d${i}`), `disks.list() misses ${prefix}-d${i}`);
  const sets = (await collect(compute.diskEncryptionSets.listByResourceGroup(rg))).map(s => s.name);
  assert.deepEqual(sets, [set.name]);
  assert.ok((await collect(compute.diskEncryptionSets.list())).some(s => s.id === set.id));
  result.lists = { byGroup: byGroup.length, bySubscription: bySubscription.length };

  // A snapshot, then associatedResources names every disk and the snapshot.
  const snapshot = await compute.snapshots.createOrUpdate(rg, `${prefix}-snap`, {
    location: "eastus", sku: { name: "Standard_LRS" },
    creationData: { createOption: "Copy", sourceResourceId: replaced.id },
    encryption: { type: "EncryptionAtRestWithCustomerKey", diskEncryptionSetId: set.id },
  });
  assert.ok((await collect(compute.snapshots.listByResourceGroup(rg))).some(s => s.id === snapshot.id));
  const associated = (await collect(compute.diskEncryptionSets.listAssociatedResources(rg, set.name))).map(id => id.toLowerCase()).sort();
  const expectedIds = [...Array.from({ length: DISKS }, (_, i) => `/subscriptions/${SUB}/resourceGroups/${i % 2 ? otherRg : rg}/providers/Microsoft.Compute/disks/${prefix}-d${i}`), snapshot.id]
    .map(id => id.toLowerCase()).sort();
  assert.deepEqual(associated, expectedIds);
  result.associated = associated.length;

  // The set in use cannot be deleted.
  result.setInUse = await expectRefusal(compute.diskEncryptionSets.delete(rg, set.name), "deleting a set in use");
  assert.equal((await compute.diskEncryptionSets.get(rg, set.name)).id, set.id);

  // grantAccess / endGetAccess statuses and diskState.
  const grant = recorder();
  const { accessSAS } = await compute.disks.grantAccess(rg, `${prefix}-d2`, { access: "Read", durationInSeconds: 60 }, grant.options);
  assert.ok(accessSAS);
  assert.equal((await compute.disks.get(rg, `${prefix}-d2`)).diskState, "ActiveSAS");
  const end = recorder();
  await compute.disks.revokeAccess(rg, `${prefix}-d2`, end.options);
  assert.equal((await compute.disks.get(rg, `${prefix}-d2`)).diskState, "Unattached");
  result.access = { grant: grant.statuses, end: end.statuses };

  // 404 envelopes.
  result.missingDisk = await expectError404(compute.disks.get(rg, `${prefix}-nope`));
  result.missingSet = await expectError404(compute.diskEncryptionSets.get(rg, `${prefix}-nope`));
  result.missingGroup = await expectError404(compute.disks.get(`${rg}-nope`, `${prefix}-d0`));

  // DELETE: 200, then 204 for what is gone; then the set is free and deletes.
  const deleted = [];
  await compute.snapshots.delete(rg, snapshot.name);
  for (let i = 0; i < DISKS; i++) {
    const r = recorder();
    await compute.disks.delete(i % 2 ? otherRg : rg, `${prefix}-d${i}`, r.options);
    deleted.push(...r.statuses);
  }
  const again = recorder();
  await compute.disks.delete(rg, `${prefix}-d0`, again.options);
  assert.deepEqual(await collect(compute.diskEncryptionSets.listAssociatedResources(rg, set.name)), []);
  const setDelete = recorder();
  await compute.diskEncryptionSets.delete(rg, set.name, setDelete.options);
  result.delete = { existing: [...new Set(deleted)], missing: again.statuses, set: setDelete.statuses };
  result.setGone = await expectError404(compute.diskEncryptionSets.get(rg, set.name));
  return result;
});

async function expectError404(promise) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.statusCode, 404, `${e.code}: ${e.message}`);
    return { statusCode: e.statusCode, code: e.code, message: e.message };
  }
  assert.fail("expected 404");
}
