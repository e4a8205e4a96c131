// @azure/arm-keyvault 5.0.0: the vault rules as the SDK sees them — each refusal surfaces as a
// RestError with the service's status and code — and resource-group deletion soft-deleting its vaults.
// Env: IRONCLAD_PREFIX (vault name prefix). Prints {errors: {case: {statusCode, code, message}}, ...}.
import assert from "node:assert/strict";
import { ResourceManagementClient } from "@azure/arm-resources";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ARM, SUB, TENANT, MANAGEMENT_SCOPE, cred, run } from "./common.mjs";

const prefix = process.env.IRONCLAD_PREFIX || "rules";
const kvm = new KeyVaultManagementClient(cred, SUB, { endpoint: ARM, credentials: { scopes: [MANAGEMENT_SCOPE] } });
const rm = new ResourceManagementClient(cred, SUB, { endpoint: ARM });
const properties = (extra = {}) => ({ tenantId: TENANT, sku: { family: "A", name: "standard" }, accessPolicies: [], ...extra });

async function error(promise) {
  try {
    await promise;
  } catch (e) {
    return { statusCode: e.statusCode, code: e.code, message: e.message };
  }
  assert.fail("expected the call to fail");
}

await run(async () => {
  await rm.resourceGroups.createOrUpdate(`${prefix}-a`, { location: "eastus" });
  await rm.resourceGroups.createOrUpdate(`${prefix}-b`, { location: "eastus" });
  const name = `${prefix}-vault`;
  await kvm.vaults.createOrUpdate(`${prefix}-a`, name, { location: "eastus", properties: properties() });

  const errors = {
    invalidName: await error(kvm.vaults.createOrUpdate(`${prefix}-a`, "1-bad--name", { location: "eastus", properties: properties() })),
    missingTenant: await error(kvm.vaults.createOrUpdate(`${prefix}-a`, `${prefix}-x`, { location: "eastus", properties: { sku: { family: "A", name: "standard" } } })),
    retention: await error(kvm.vaults.createOrUpdate(`${prefix}-a`, `${prefix}-x`, { location: "eastus", properties: properties({ softDeleteRetentionInDays: 91 }) })),
    softDeleteOff: await error(kvm.vaults.createOrUpdate(`${prefix}-a`, `${prefix}-x`, { location: "eastus", properties: properties({ enableSoftDelete: false }) })),
    retentionChange: await error(kvm.vaults.update(`${prefix}-a`, name, { properties: { softDeleteRetentionInDays: 30 } })),
    nameTaken: await error(kvm.vaults.createOrUpdate(`${prefix}-b`, name, { location: "eastus", properties: properties() })),
    badPermission: await error(kvm.vaults.updateAccessPolicy(`${prefix}-a`, name, "add", { properties: { accessPolicies: [{ tenantId: TENANT, objectId: TENANT, permissions: { keys: ["levitate"] } }] } })),
    missingVault: await error(kvm.vaults.get(`${prefix}-a`, `${prefix}-none`)),
  };
  const invalid = await kvm.vaults.checkNameAvailability({ name: "1-bad--name", type: "Microsoft.KeyVault/vaults" });

  // Deleting the resource group soft-deletes its vault.
  await rm.resourceGroups.delete(`${prefix}-a`);
  const deleted = await kvm.vaults.getDeleted(name, "eastus");
  return { errors, invalidReason: invalid.reason, deletedVaultId: deleted.properties.vaultId };
});
