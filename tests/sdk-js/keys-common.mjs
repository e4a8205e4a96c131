// Shared by the keys-*.mjs scripts: a vault made through ARM (@azure/arm-keyvault) and the clients of
// its data plane (@azure/keyvault-keys 4.10.2) exactly as an application builds them, plus the
// challenge opt-out every client on 127.0.0.1 needs (api-compat.md §1.2.4).
import assert from "node:assert/strict";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ResourceManagementClient } from "@azure/arm-resources";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { ARM, SUB, TENANT, MANAGEMENT_SCOPE, cred, collect, expectError } from "./common.mjs";

export { collect, expectError };

export const VAULT_SCOPE = "https://vault.azure.net/.default";
export const kvm = new KeyVaultManagementClient(cred, SUB, { endpoint: ARM, credentials: { scopes: [MANAGEMENT_SCOPE] } });
const rm = new ResourceManagementClient(cred, SUB, { endpoint: ARM });

/** Every key permission an access policy can grant. */
export const ALL_KEY_PERMISSIONS = ["get", "list", "create", "update", "import", "delete", "recover", "backup", "restore",
  "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "purge", "rotate", "getrotationpolicy", "setrotationpolicy"];

/** The claims of a credential's token (oid, appid, tid...), decoded without verification. */
export async function claims(credential = cred, scope = MANAGEMENT_SCOPE) {
  const token = await credential.getToken(scope);
  return JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString("utf8"));
}

/** The object id of the credential's service principal (what access policies name). */
export async function objectId(credential = cred) {
  return (await claims(credential)).oid;
}

/**
 * Creates (or updates) a vault through ARM and returns the resource; options: rbac, purgeProtection,
 * retentionDays, policies (access policy entries), rg.
 */
export async function createVault(name, { rbac = false, purgeProtection = false, retentionDays = 7, policies = [], rg = "rg-keys" } = {}) {
  await rm.resourceGroups.createOrUpdate(rg, { location: "eastus" });
  const vault = await kvm.vaults.createOrUpdate(rg, name, {
    location: "eastus",
    properties: {
      tenantId: TENANT,
      sku: { family: "A", name: "standard" },
      accessPolicies: policies,
      enableSoftDelete: true,
      softDeleteRetentionInDays: retentionDays,
      enablePurgeProtection: purgeProtection || undefined,
      enableRbacAuthorization: rbac,
    },
  });
  assert.match(vault.properties.vaultUri, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  return vault;
}

/** An access policy entry for the object id with the key permissions given (default: all). */
export function policy(oid, keys = ALL_KEY_PERMISSIONS) {
  return { tenantId: TENANT, objectId: oid, permissions: { keys, secrets: [], certificates: [], storage: [] } };
}

export function keyClient(vaultUrl, credential = cred, options = {}) {
  return new KeyClient(vaultUrl, credential, { disableChallengeResourceVerification: true, ...options });
}

export function cryptoClient(keyOrId, credential = cred) {
  return new CryptographyClient(keyOrId, credential, { disableChallengeResourceVerification: true });
}


/** Pollers: the first poll is immediate; later ones need not wait the SDK's default 2 s here. */
export const FAST = { intervalInMs: 50 };
