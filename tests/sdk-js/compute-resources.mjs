// The seed's customer-key story end to end through @azure/arm-compute 25.1.1: a vault with soft
// delete and purge protection, an RSA key, a set with a system-assigned identity granted by an access
// policy; a second set on an RBAC vault granted by the Key Vault Crypto Service Encryption User role
// (refused before the assignment); a set with a user-assigned identity; a versionless keyUrl resolved
// to the current version; customer-key, platform-key and double-encrypted disks; a snapshot, an image from it and a disk from the image,
// each reading back the data uploaded into the first disk (SAS).
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_SEED. Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { SUB } from "./common.mjs";
import {
  ENCRYPTION, ROLES, SEED, assignRole, rm, compute, createEmptyDisk, createSet, customerVault, expectRefusal,
  grantPolicy, uploadDisk, verifyData, writesFor,
  runCompute,
} from "./compute-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-compute";
const prefix = process.env.IRONCLAD_PREFIX || "res";

runCompute(async () => {
  const result = { seed: SEED };

  // ── Access policy: vault, key, set, grant ────────────────────────────────────────────────
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  assert.equal(vault.properties.enableSoftDelete, true);
  assert.equal(vault.properties.enablePurgeProtection, true);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault });
  assert.equal(set.provisioningState, "Succeeded");
  assert.equal(set.identity.type, "SystemAssigned");
  assert.match(set.identity.principalId, /^[0-9a-f-]{36}$/);
  assert.equal(set.encryptionType, ENCRYPTION.customer);
  assert.equal(set.activeKey.keyUrl, key.id);
  assert.equal(set.activeKey.sourceVault.id.toLowerCase(), vault.id.toLowerCase());
  assert.deepEqual(set.previousKeys ?? [], []);
  await grantPolicy(vault, set.identity.principalId);
  result.setPolicy = { id: set.id, principalId: set.identity.principalId, keyUrl: set.activeKey.keyUrl };

  // Customer-key disk: Empty, then an Upload disk with data.
  const empty = await createEmptyDisk(rg, `${prefix}-cmk-empty`, { set });
  assert.equal(empty.encryption.type, ENCRYPTION.customer);
  assert.equal(empty.encryption.diskEncryptionSetId.toLowerCase(), set.id.toLowerCase());
  assert.equal(empty.diskState, "Unattached");
  assert.match(empty.uniqueId, /^[0-9a-f-]{36}$/);
  assert.ok(empty.timeCreated instanceof Date && !isNaN(empty.timeCreated), "timeCreated");
  const writes = writesFor("source");
  const source = await uploadDisk(rg, `${prefix}-cmk`, writes, { set });
  assert.equal(source.encryption.type, ENCRYPTION.customer);
  result.sourceBytes = await verifyData(rg, source.name, writes);

  // Snapshot (full) and incremental snapshot of the customer-key disk: same set, same data.
  const snapshot = await compute.snapshots.createOrUpdate(rg, `${prefix}-snap`, {
    location: "eastus", sku: { name: "Standard_LRS" },
    creationData: { createOption: "Copy", sourceResourceId: source.id },
    encryption: { type: ENCRYPTION.customer, diskEncryptionSetId: set.id },
  });
  assert.equal(snapshot.provisioningState, "Succeeded");
  assert.equal(snapshot.encryption.diskEncryptionSetId.toLowerCase(), set.id.toLowerCase());
  assert.notEqual(snapshot.uniqueId, source.uniqueId);
  await verifyData(rg, snapshot.name, writes, "snapshots");
  const incremental = await compute.snapshots.createOrUpdate(rg, `${prefix}-snap-inc`, {
    location: "eastus", sku: { name: "Standard_LRS" }, incremental: true,
    creationData: { createOption: "Copy", sourceResourceId: source.id },
    encryption: { type: ENCRYPTION.customer, diskEncryptionSetId: set.id },
  });
  assert.equal(incremental.incremental, true);
  await verifyData(rg, incremental.name, writes, "snapshots");

  // Image from the snapshot (OS disk with the set), disk from the image.
  const image = await compute.images.createOrUpdate(rg, `${prefix}-image`, {
    location: "eastus",
    hyperVGeneration: "V2",
    storageProfile: {
      osDisk: { osType: "Linux", osState: "Generalized", snapshot: { id: snapshot.id }, diskEncryptionSet: { id: set.id } },
      dataDisks: [],
    },
  });
  assert.equal(image.provisioningState, "Succeeded");
  assert.equal(image.storageProfile.osDisk.diskEncryptionSet.id.toLowerCase(), set.id.toLowerCase());
  const fromImage = await compute.disks.createOrUpdate(rg, `${prefix}-from-image`, {
    location: "eastus", sku: { name: "Premium_LRS" },
    creationData: { createOption: "FromImage", imageReference: { id: image.id } },
    encryption: { type: ENCRYPTION.customer, diskEncryptionSetId: set.id },
  });
  assert.equal(fromImage.provisioningState, "Succeeded");
  assert.equal(fromImage.encryption.diskEncryptionSetId.toLowerCase(), set.id.toLowerCase());
  await verifyData(rg, fromImage.name, writes);
  // Seed: a disk from a customer-key image keeps that key when it names none.
  const inherited = await compute.disks.createOrUpdate(rg, `${prefix}-from-image-inherit`, {
    location: "eastus", sku: { name: "Premium_LRS" },
    creationData: { createOption: "FromImage", imageReference: { id: image.id } },
  });
  assert.equal(inherited.encryption.type, ENCRYPTION.customer, "a disk from a customer-key image stays customer-key");
  assert.equal(inherited.encryption.diskEncryptionSetId.toLowerCase(), set.id.toLowerCase());
  await verifyData(rg, inherited.name, writes);
  // An image straight from the managed disk too.
  const imageFromDisk = await compute.images.createOrUpdate(rg, `${prefix}-image-disk`, {
    location: "eastus",
    storageProfile: { osDisk: { osType: "Linux", osState: "Generalized", managedDisk: { id: source.id }, diskEncryptionSet: { id: set.id } } },
  });
  assert.equal(imageFromDisk.provisioningState, "Succeeded");
  result.image = { id: image.id, fromImage: fromImage.id };

  // ── Platform-key disk (no set): the default ──────────────────────────────────────────────
  const platformWrites = writesFor("platform");
  const platform = await uploadDisk(rg, `${prefix}-pmk`, platformWrites);
  assert.equal(platform.encryption.type, ENCRYPTION.platform);
  assert.equal(platform.encryption.diskEncryptionSetId ?? null, null);
  await verifyData(rg, platform.name, platformWrites);
  const platformEmpty = await createEmptyDisk(rg, `${prefix}-pmk-empty`);
  assert.equal(platformEmpty.encryption.type, ENCRYPTION.platform);

  // ── Double encryption: platform + customer keys ─────────────────────────────────────────
  const doubleSet = await createSet(rg, `${prefix}-des-double`, { keyUrl: key.id, vault, type: ENCRYPTION.double });
  assert.equal(doubleSet.encryptionType, ENCRYPTION.double);
  await grantPolicy(vault, doubleSet.identity.principalId);
  const doubleWrites = writesFor("double");
  const double = await uploadDisk(rg, `${prefix}-double`, doubleWrites, { set: doubleSet });
  assert.equal(double.encryption.type, ENCRYPTION.double);
  await verifyData(rg, double.name, doubleWrites);

  // ── Versionless keyUrl: accepted and resolved to the current version ────────────────────
  const versionless = `${vault.properties.vaultUri}keys/${key.name}`;
  const resolvedSet = await createSet(rg, `${prefix}-des-versionless`, { keyUrl: versionless, vault });
  assert.equal(resolvedSet.activeKey.keyUrl, key.id, "a versionless keyUrl resolves to the current version");
  result.versionless = { requested: versionless, activeKey: resolvedSet.activeKey.keyUrl, provisioningState: resolvedSet.provisioningState };

  // ── RBAC vault: refused until the role is assigned, then works ─────────────────────────
  const rbac = await customerVault(rg, `${prefix}-kv-rbac`, { rbac: true });
  const rbacKey = await rbac.keys.createRsaKey(`${prefix}-rbac-key`, { keySize: 3072 });
  const rbacSet = await createSet(rg, `${prefix}-des-rbac`, { keyUrl: rbacKey.id, vault: rbac.vault });
  result.rbacBeforeRole = await expectRefusal(createEmptyDisk(rg, `${prefix}-rbac-early`, { set: rbacSet }), "disk on an RBAC set before the role");
  await assignRole(rbac.vault.id, rbacSet.identity.principalId, ROLES.cryptoServiceEncryptionUser);
  const rbacWrites = writesFor("rbac");
  const rbacDisk = await uploadDisk(rg, `${prefix}-rbac-disk`, rbacWrites, { set: rbacSet });
  assert.equal(rbacDisk.encryption.diskEncryptionSetId.toLowerCase(), rbacSet.id.toLowerCase());
  await verifyData(rg, rbacDisk.name, rbacWrites);
  result.rbac = { setId: rbacSet.id, principalId: rbacSet.identity.principalId, keyName: rbacKey.name };

  // ── A user-assigned identity (made through the generic resources API), granted before the set ─
  const identityId = `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${prefix}-uami`;
  const identity = await rm.resources.createOrUpdateById(identityId, "2023-01-31", { location: "eastus" });
  const uamiPrincipal = identity.properties.principalId;
  assert.match(uamiPrincipal, /^[0-9a-f-]{36}$/);
  await grantPolicy(vault, uamiPrincipal);
  const uamiSet = await createSet(rg, `${prefix}-des-uami`, {
    keyUrl: key.id, vault, identity: { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } },
  });
  assert.equal(uamiSet.identity.type, "UserAssigned");
  assert.ok(Object.keys(uamiSet.identity.userAssignedIdentities).some(id => id.toLowerCase() === identityId.toLowerCase()));
  const uamiWrites = writesFor("uami");
  await uploadDisk(rg, `${prefix}-uami-disk`, uamiWrites, { set: uamiSet });
  await verifyData(rg, `${prefix}-uami-disk`, uamiWrites);
  result.userAssigned = { setId: uamiSet.id, principalId: uamiPrincipal };

  // RSA 4096 is a valid set key too.
  const bigKey = await keys.createRsaKey(`${prefix}-key-4096`, { keySize: 4096 });
  const bigSet = await createSet(rg, `${prefix}-des-4096`, { keyUrl: bigKey.id, vault });
  assert.equal(bigSet.activeKey.keyUrl, bigKey.id);

  return result;
});
