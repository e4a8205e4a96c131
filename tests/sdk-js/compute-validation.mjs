// Every refusal of a disk encryption set's checks, as @azure/arm-compute 25.1.1 sees it: a vault
// without purge protection, a key that cannot wrap (key_ops without wrapKey/unwrapKey), a key that
// does not exist, a disabled key, a vault in another region, a disk in another region than its set,
// and an identity without access (none at all; only `get`) — refused when a disk needs the key.
// (Ironclad's Key Vault makes only RSA 2048/3072/4096 keys, so a wrong type or size cannot be
// created through the SDK; the C# side notes it.) Each entry is {statusCode, code, message}; the C#
// test asserts that each message names what is missing. Env: IRONCLAD_RG, IRONCLAD_PREFIX.
import assert from "node:assert/strict";
import { compute, createEmptyDisk, createSet, customerVault, expectRefusal, grantPolicy, runCompute } from "./compute-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-validation";
const prefix = process.env.IRONCLAD_PREFIX || "val";

runCompute(async () => {
  const errors = {};
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });

  // Vault without purge protection.
  const unprotected = await customerVault(rg, `${prefix}-kv-nopp`, { purgeProtection: false });
  const unprotectedKey = await unprotected.keys.createRsaKey(`${prefix}-nopp-key`, { keySize: 2048 });
  errors.noPurgeProtection = await expectRefusal(
    createSet(rg, `${prefix}-des-nopp`, { keyUrl: unprotectedKey.id, vault: unprotected.vault }), "vault without purge protection");

  // A key whose key_ops exclude wrapKey/unwrapKey.
  const signOnly = await keys.createRsaKey(`${prefix}-sign-only`, { keySize: 2048, keyOps: ["sign", "verify"] });
  errors.keyOps = await expectRefusal(createSet(rg, `${prefix}-des-ops`, { keyUrl: signOnly.id, vault }), "key without wrapKey/unwrapKey");

  // A key that does not exist (versioned and versionless).
  errors.missingKey = await expectRefusal(
    createSet(rg, `${prefix}-des-missing`, { keyUrl: `${vault.properties.vaultUri}keys/${prefix}-nokey/0123456789abcdef0123456789abcdef`, vault }), "missing key");
  errors.missingKeyVersionless = await expectRefusal(
    createSet(rg, `${prefix}-des-missing2`, { keyUrl: `${vault.properties.vaultUri}keys/${prefix}-nokey`, vault }), "missing key (versionless)");

  // A keyUrl in another vault than sourceVault.
  errors.keyNotInVault = await expectRefusal(
    createSet(rg, `${prefix}-des-mismatch`, { keyUrl: unprotectedKey.id, vault }), "keyUrl outside sourceVault");

  // A disabled key.
  const disabled = await keys.createRsaKey(`${prefix}-disabled`, { keySize: 2048 });
  await keys.updateKeyProperties(disabled.name, disabled.properties.version, { enabled: false });
  errors.disabledKey = await expectRefusal(createSet(rg, `${prefix}-des-disabled`, { keyUrl: disabled.id, vault }), "disabled key");

  // A vault in another region than the set.
  const west = await customerVault(`${rg}-west`, `${prefix}-kv-west`, { location: "westus" });
  const westKey = await west.keys.createRsaKey(`${prefix}-west-key`, { keySize: 2048 });
  errors.otherRegion = await expectRefusal(createSet(rg, `${prefix}-des-west`, { keyUrl: westKey.id, vault: west.vault }), "vault in another region");

  // A disk in another region than its set.
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault });
  await grantPolicy(vault, set.identity.principalId);
  errors.diskOtherRegion = await expectRefusal(createEmptyDisk(rg, `${prefix}-disk-west`, { set, location: "westus" }), "disk in another region than its set");

  // The identity without any access, then with `get` only.
  const noAccess = await createSet(rg, `${prefix}-des-noaccess`, { keyUrl: key.id, vault });
  errors.noAccess = await expectRefusal(createEmptyDisk(rg, `${prefix}-disk-noaccess`, { set: noAccess }), "identity without access");
  await grantPolicy(vault, noAccess.identity.principalId, ["get"]);
  errors.getOnly = await expectRefusal(createEmptyDisk(rg, `${prefix}-disk-getonly`, { set: noAccess }), "identity with get only");
  await grantPolicy(vault, noAccess.identity.principalId, ["get", "wrapKey", "unwrapKey"]);
  const granted = await createEmptyDisk(rg, `${prefix}-disk-granted`, { set: noAccess });
  assert.equal(granted.provisioningState, "Succeeded", "the same set works once granted");

  // A customer-key disk without a set id, and an unknown set.
  errors.diskWithoutSet = await expectRefusal(compute.disks.createOrUpdate(rg, `${prefix}-disk-noset`, {
    location: "eastus", sku: { name: "Premium_LRS" }, diskSizeGB: 1, creationData: { createOption: "Empty" },
    encryption: { type: "EncryptionAtRestWithCustomerKey" },
  }), "customer-key disk without diskEncryptionSetId");
  errors.diskUnknownSet = await expectRefusal(compute.disks.createOrUpdate(rg, `${prefix}-disk-unknownset`, {
    location: "eastus", sku: { name: "Premium_LRS" }, diskSizeGB: 1, creationData: { createOption: "Empty" },
    encryption: { type: "EncryptionAtRestWithCustomerKey", diskEncryptionSetId: set.id.replace(/[^/]+$/, `${prefix}-nodes`) },
  }), "customer-key disk with an unknown set");

  // None of the refused sets or disks exists afterwards.
  for (const name of [`${prefix}-des-nopp`, `${prefix}-des-ops`, `${prefix}-des-disabled`, `${prefix}-des-west`]) {
    await expectRefusal(compute.diskEncryptionSets.get(rg, name), `GET refused set ${name}`);
  }
  for (const name of [`${prefix}-disk-noaccess`, `${prefix}-disk-getonly`, `${prefix}-disk-west`]) {
    await expectRefusal(compute.disks.get(rg, name), `GET refused disk ${name}`);
  }

  return {
    errors,
    vaults: { protected: vault.name, unprotected: unprotected.vault.name, west: west.vault.name },
    keys: { key: key.name, signOnly: signOnly.name, disabled: disabled.name, unprotected: unprotectedKey.name },
    principals: { set: set.identity.principalId, noAccess: noAccess.identity.principalId },
  };
});
