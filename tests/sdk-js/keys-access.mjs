// Who may use a vault's keys, through the real SDKs: a vault using RBAC (no role → 403 ForbiddenByRbac;
// Key Vault Crypto Officer assigned through @azure/arm-authorization → allowed; Crypto Service
// Encryption User → wrap/unwrap but no create; assignment removed → the very next call is refused) and
// a vault using access policies (a permission missing → 403 AccessDenied; the entry removed through
// @azure/arm-keyvault mid-way → the next unwrap of the same client is refused).
// Env: IRONCLAD_PREFIX (vault name prefix), IRONCLAD_USER_APP / IRONCLAD_USER_SECRET / IRONCLAD_USER_OID
// (a second service principal, the data-plane caller). Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ARM, SUB, TENANT, MANAGEMENT_SCOPE, cred, credential, run } from "./common.mjs";
import { createVault, cryptoClient, expectError, keyClient, kvm, objectId, policy } from "./keys-common.mjs";

const CRYPTO_OFFICER = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
const prefix = process.env.IRONCLAD_PREFIX || "access";
const userOid = process.env.IRONCLAD_USER_OID;
const user = credential(process.env.IRONCLAD_USER_APP, process.env.IRONCLAD_USER_SECRET);
const auth = new AuthorizationManagementClient(cred, SUB, { endpoint: ARM, credentialScopes: [MANAGEMENT_SCOPE] });

async function assign(scope, role) {
  const name = randomUUID();
  await auth.roleAssignments.create(scope, name, {
    principalId: userOid, principalType: "ServicePrincipal",
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
  });
  return name;
}

run(async () => {
  const dek = randomBytes(32);
  const result = {};

  // ── RBAC ──────────────────────────────────────────────────────────────────────────────────
  const rbacVault = await createVault(`${prefix}-rbac`, { rbac: true });
  const rbacUrl = rbacVault.properties.vaultUri;
  const userRbac = keyClient(rbacUrl, user);
  result.noRole = await expectError(userRbac.createRsaKey("r1", { keySize: 2048 }), 403, "Forbidden");
  // The subscription Owner has no data actions: the data plane refuses it too.
  result.owner = await expectError(keyClient(rbacUrl).getKey("r1"), 403, "Forbidden");

  const officer = await assign(rbacVault.id, CRYPTO_OFFICER);
  const key = await userRbac.createRsaKey("r1", { keySize: 2048 });
  const userCrypto = cryptoClient(key.id, user);
  const wrapped = await userCrypto.wrapKey("RSA-OAEP-256", dek);
  assert.deepEqual(Buffer.from((await userCrypto.unwrapKey("RSA-OAEP-256", wrapped.result)).result), dek);

  await auth.roleAssignments.delete(rbacVault.id, officer);
  const encryptionUser = await assign(rbacVault.id, CRYPTO_SERVICE_ENCRYPTION_USER);
  assert.deepEqual(Buffer.from((await userCrypto.unwrapKey("RSA-OAEP-256", wrapped.result)).result), dek);
  result.encryptionUserCreate = await expectError(userRbac.createRsaKey("r2", { keySize: 2048 }), 403, "Forbidden");

  await auth.roleAssignments.delete(rbacVault.id, encryptionUser);
  result.roleRemoved = await expectError(userCrypto.unwrapKey("RSA-OAEP-256", wrapped.result), 403, "Forbidden");

  // ── Access policies ───────────────────────────────────────────────────────────────────────
  const adminOid = await objectId();
  const policyVault = await createVault(`${prefix}-policy`, {
    policies: [policy(adminOid), policy(userOid, ["get", "wrapKey", "unwrapKey"])],
  });
  const policyUrl = policyVault.properties.vaultUri;
  const adminKey = await keyClient(policyUrl).createRsaKey("p1", { keySize: 2048 });
  const userPolicyCrypto = cryptoClient(adminKey.id, user);
  const wrappedP = await userPolicyCrypto.wrapKey("RSA-OAEP-256", dek);
  assert.deepEqual(Buffer.from((await userPolicyCrypto.unwrapKey("RSA-OAEP-256", wrappedP.result)).result), dek);
  result.missingPermission = await expectError(keyClient(policyUrl, user).createRsaKey("p2", { keySize: 2048 }), 403, "Forbidden");

  await kvm.vaults.updateAccessPolicy("rg-keys", policyVault.name, "remove", {
    properties: { accessPolicies: [{ tenantId: TENANT, objectId: userOid, permissions: { keys: [] } }] },
  });
  result.policyRemoved = await expectError(userPolicyCrypto.unwrapKey("RSA-OAEP-256", wrappedP.result), 403, "Forbidden");
  // The administrator's entry still works.
  assert.deepEqual(Buffer.from((await cryptoClient(adminKey.id).unwrapKey("RSA-OAEP-256", wrappedP.result)).result), dek);

  return result;
});
