// @azure/arm-keyvault 5.0.0 drives the Microsoft.KeyVault provider end to end. Two phases, with a
// server restart between them (the C# test does it): IRONCLAD_PHASE=before creates, reads, updates,
// lists, changes access policies, soft-deletes, recovers and purges; IRONCLAD_PHASE=after checks that
// everything survived the restart and finishes the purge-protection story. Env: IRONCLAD_RG (the
// resource group), IRONCLAD_PREFIX (vault name prefix). Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { ResourceManagementClient } from "@azure/arm-resources";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ARM, SUB, TENANT, MANAGEMENT_SCOPE, cred, endpoints, run, collect, expectError } from "./common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-vaults";
const prefix = process.env.IRONCLAD_PREFIX || "kv";
const phase = process.env.IRONCLAD_PHASE || "before";
const kvm = new KeyVaultManagementClient(cred, SUB, { endpoint: ARM, credentials: { scopes: [MANAGEMENT_SCOPE] } });
const rm = new ResourceManagementClient(cred, SUB, { endpoint: ARM });

const protectedName = `${prefix}-protected`;
const plainName = `${prefix}-plain`;
const adminObjectId = endpoints.objectId ?? "11111111-1111-1111-1111-111111111111";
const desObjectId = "33333333-3333-3333-3333-333333333333";

async function before() {
  await rm.resourceGroups.createOrUpdate(rg, { location: "eastus" });

  // Create with every property.
  const created = await kvm.vaults.createOrUpdate(rg, protectedName, {
    location: "eastus",
    tags: { env: "sdk" },
    properties: {
      tenantId: TENANT,
      sku: { family: "A", name: "premium" },
      accessPolicies: [{ tenantId: TENANT, objectId: adminObjectId, permissions: { keys: ["get", "wrapKey", "unwrapKey"], secrets: [], certificates: [], storage: [] } }],
      enabledForDeployment: true, enabledForDiskEncryption: true, enabledForTemplateDeployment: true,
      enableSoftDelete: true, softDeleteRetentionInDays: 7, enablePurgeProtection: true, enableRbacAuthorization: false,
      publicNetworkAccess: "Enabled", createMode: "default",
      networkAcls: { bypass: "AzureServices", defaultAction: "Allow", ipRules: [], virtualNetworkRules: [] },
    },
  });
  assert.equal(created.name, protectedName);
  assert.equal(created.type, "Microsoft.KeyVault/vaults");
  assert.equal(created.id, `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${protectedName}`);
  assert.match(created.properties.vaultUri, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(created.properties.provisioningState, "Succeeded");
  assert.equal(created.properties.enablePurgeProtection, true);
  assert.equal(created.properties.softDeleteRetentionInDays, 7);
  assert.equal(created.properties.sku.name, "premium");
  assert.equal(created.properties.networkAcls.bypass, "AzureServices");

  const got = await kvm.vaults.get(rg, protectedName);
  assert.deepEqual(got.properties, created.properties);

  // PATCH merges; purge protection and soft delete cannot be switched off.
  const updated = await kvm.vaults.update(rg, protectedName, { tags: { env: "sdk", stage: "2" }, properties: { enableRbacAuthorization: true } });
  assert.equal(updated.properties.enableRbacAuthorization, true);
  assert.equal(updated.properties.enabledForDiskEncryption, true);
  assert.equal(updated.tags.stage, "2");
  const purgeOff = await expectError(kvm.vaults.update(rg, protectedName, { properties: { enablePurgeProtection: false } }), 400);
  const softOff = await expectError(kvm.vaults.update(rg, protectedName, { properties: { enableSoftDelete: false } }), 400);
  assert.equal((await kvm.vaults.get(rg, protectedName)).properties.enablePurgeProtection, true);

  // Access policies.
  const added = await kvm.vaults.updateAccessPolicy(rg, protectedName, "add", { properties: { accessPolicies: [{ tenantId: TENANT, objectId: desObjectId, permissions: { keys: ["GET", "wrapkey", "unwrapKey"] } }] } });
  assert.equal(added.properties.accessPolicies.length, 2);
  assert.deepEqual(added.properties.accessPolicies.find(p => p.objectId === desObjectId).permissions.keys, ["get", "wrapKey", "unwrapKey"]);
  const replaced = await kvm.vaults.updateAccessPolicy(rg, protectedName, "replace", { properties: { accessPolicies: [{ tenantId: TENANT, objectId: desObjectId, permissions: { keys: ["get", "wrapKey", "unwrapKey", "list"] } }] } });
  assert.equal(replaced.properties.accessPolicies.find(p => p.objectId === desObjectId).permissions.keys.length, 4);
  const removed = await kvm.vaults.updateAccessPolicy(rg, protectedName, "remove", { properties: { accessPolicies: [{ tenantId: TENANT, objectId: desObjectId, permissions: { keys: ["list"] } }] } });
  assert.deepEqual(removed.properties.accessPolicies.find(p => p.objectId === desObjectId).permissions.keys, ["get", "wrapKey", "unwrapKey"]);

  // A second vault without purge protection; name checks.
  const plain = await kvm.vaults.createOrUpdate(rg, plainName, { location: "eastus", properties: { tenantId: TENANT, sku: { family: "A", name: "standard" }, accessPolicies: [] } });
  assert.notEqual(plain.properties.vaultUri, created.properties.vaultUri);
  assert.equal((await kvm.vaults.checkNameAvailability({ name: plainName, type: "Microsoft.KeyVault/vaults" })).nameAvailable, false);
  assert.equal((await kvm.vaults.checkNameAvailability({ name: `${prefix}-free`, type: "Microsoft.KeyVault/vaults" })).nameAvailable, true);

  // Lists.
  const byGroup = (await collect(kvm.vaults.listByResourceGroup(rg))).map(v => v.name).sort();
  assert.deepEqual(byGroup, [plainName, protectedName].sort());
  const paged = (await collect(kvm.vaults.listByResourceGroup(rg, { top: 1 }))).map(v => v.name).sort();
  assert.deepEqual(paged, byGroup);
  const bySubscription = (await collect(kvm.vaults.listBySubscription())).map(v => v.name);
  assert.ok(bySubscription.includes(protectedName) && bySubscription.includes(plainName));
  const generic = (await collect(kvm.vaults.list())).map(v => v.name);
  assert.ok(generic.includes(protectedName), `vaults.list() returned ${JSON.stringify(generic)}`);

  // Soft delete, deleted vaults, recover, purge (no protection).
  await kvm.vaults.delete(rg, plainName);
  await expectError(kvm.vaults.get(rg, plainName), 404, "ResourceNotFound");
  const reuse = await expectError(kvm.vaults.createOrUpdate(rg, plainName, { location: "eastus", properties: { tenantId: TENANT, sku: { family: "A", name: "standard" } } }), 409);
  const deleted = await kvm.vaults.getDeleted(plainName, "eastus");
  assert.equal(deleted.properties.vaultId, plain.id);
  assert.equal(deleted.properties.purgeProtectionEnabled, false);
  assert.ok((await collect(kvm.vaults.listDeleted())).some(v => v.name === plainName));
  const recovered = await kvm.vaults.createOrUpdate(rg, plainName, { location: "eastus", properties: { tenantId: TENANT, sku: { family: "A", name: "standard" }, createMode: "recover" } });
  assert.equal(recovered.properties.vaultUri, plain.properties.vaultUri);
  await kvm.vaults.delete(rg, plainName);
  await kvm.vaults.purgeDeleted(plainName, "eastus");
  await expectError(kvm.vaults.getDeleted(plainName, "eastus"), 404);

  // The protected vault: deleted, purge refused.
  await kvm.vaults.delete(rg, protectedName);
  const refused = await expectError(kvm.vaults.purgeDeleted(protectedName, "eastus"), 409, "Conflict");

  return { vaultUri: created.properties.vaultUri, purgeOff, softOff, reuse, refused };
}

async function after() {
  const deleted = await kvm.vaults.getDeleted(protectedName, "eastus");
  assert.equal(deleted.properties.purgeProtectionEnabled, true);
  assert.equal(deleted.properties.tags.stage, "2");
  const refused = await expectError(kvm.vaults.purgeDeleted(protectedName, "eastus"), 409, "Conflict");
  const recovered = await kvm.vaults.createOrUpdate(rg, protectedName, { location: "eastus", properties: { tenantId: TENANT, sku: { family: "A", name: "premium" }, createMode: "recover" } });
  assert.equal(recovered.properties.enablePurgeProtection, true);
  assert.equal(recovered.properties.enableRbacAuthorization, true);
  assert.equal(recovered.properties.accessPolicies.length, 2);
  await expectError(kvm.vaults.getDeleted(plainName, "eastus"), 404);
  return { vaultUri: recovered.properties.vaultUri, refused };
}

await run(phase === "after" ? after : before);
