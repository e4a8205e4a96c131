// A server restart in the middle of a key's life, through @azure/keyvault-keys 4.10.2. Two phases (the
// C# test restarts the server between them): IRONCLAD_PHASE=before creates a vault and a key and wraps
// a DEK (given in IRONCLAD_DEK, base64); IRONCLAD_PHASE=after (env IRONCLAD_WRAPPED from before) finds
// the same key and version and unwraps the earlier wrap, then keeps working (a new version, a wrap).
// Env: IRONCLAD_VAULT. Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { run } from "./common.mjs";
import { createVault, cryptoClient, keyClient, kvm, objectId, policy } from "./keys-common.mjs";

const vaultName = process.env.IRONCLAD_VAULT || "keys-restart";
const phase = process.env.IRONCLAD_PHASE || "before";

run(async () => {
  if (phase === "before") {
    const vault = await createVault(vaultName, { purgeProtection: true, policies: [policy(await objectId())] });
    const client = keyClient(vault.properties.vaultUri);
    const key = await client.createRsaKey("survivor", { keySize: 2048 });
    const wrapped = await cryptoClient(key.id).wrapKey("RSA-OAEP-256", Buffer.from(process.env.IRONCLAD_DEK, "base64"));
    return { vaultUri: vault.properties.vaultUri, kid: key.id, wrapped: Buffer.from(wrapped.result).toString("base64") };
  }

  const vault = await kvm.vaults.get("rg-keys", vaultName);
  const client = keyClient(vault.properties.vaultUri);
  const key = await client.getKey("survivor");
  const unwrapped = await cryptoClient(`${vault.properties.vaultUri}keys/survivor`).unwrapKey("RSA-OAEP-256", Buffer.from(process.env.IRONCLAD_WRAPPED, "base64"));
  const next = await client.createRsaKey("survivor", { keySize: 2048 });
  assert.notEqual(next.properties.version, key.properties.version);
  const rewrapped = await cryptoClient(next).wrapKey("RSA-OAEP", unwrapped.result);
  assert.equal(rewrapped.result.length, 256);
  return {
    vaultUri: vault.properties.vaultUri,
    kid: key.id,
    unwrappedBy: unwrapped.keyID,
    dek: Buffer.from(unwrapped.result).toString("base64"),
    recoveryLevel: key.properties.recoveryLevel,
  };
});
