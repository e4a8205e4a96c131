// @azure/keyvault-keys 4.10.2 through the rest of a key's life: rotate (a new version, the old one
// still unwraps), rotation policy (the default, then set and read back), backup → purge → restore (the
// restored key unwraps what the original wrapped), import of a JWK (BYOK), and soft delete with purge
// protection (purge refused with 403, recover brings every version back).
// Env: IRONCLAD_PREFIX (vault name prefix). Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { run } from "./common.mjs";
import { FAST, collect, createVault, cryptoClient, expectError, keyClient, objectId, policy } from "./keys-common.mjs";

const prefix = process.env.IRONCLAD_PREFIX || "life";

run(async () => {
  const oid = await objectId();
  const vault = await createVault(`${prefix}-plain`, { policies: [policy(oid)] });
  const client = keyClient(vault.properties.vaultUri);
  const dek = randomBytes(32);

  // Rotate: a new version; the old version still unwraps what it wrapped.
  const first = await client.createRsaKey("rot", { keySize: 2048 });
  const wrappedByFirst = await cryptoClient(first.id).wrapKey("RSA-OAEP-256", dek);
  const rotated = await client.rotateKey("rot");
  assert.notEqual(rotated.properties.version, first.properties.version);
  assert.notDeepEqual(Buffer.from(rotated.key.n), Buffer.from(first.key.n));
  assert.equal((await client.getKey("rot")).id, rotated.id);
  assert.deepEqual(Buffer.from((await cryptoClient(first.id).unwrapKey("RSA-OAEP-256", wrappedByFirst.result)).result), dek);
  assert.equal((await collect(client.listPropertiesOfKeyVersions("rot"))).length, 2);

  // Rotation policy: the default, then one that rotates, read back.
  const defaultPolicy = await client.getKeyRotationPolicy("rot");
  const set = await client.updateKeyRotationPolicy("rot", {
    lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P30D" }, { action: "Notify", timeBeforeExpiry: "P7D" }],
    expiresIn: "P90D",
  });
  assert.equal(set.expiresIn, "P90D");
  const read = await client.getKeyRotationPolicy("rot");
  assert.equal(read.expiresIn, "P90D");
  assert.deepEqual(read.lifetimeActions.map(a => [a.action, a.timeAfterCreate ?? null, a.timeBeforeExpiry ?? null]),
    [["Rotate", "P30D", null], ["Notify", null, "P7D"]]);
  assert.ok(read.createdOn instanceof Date);
  const badPolicy = await expectError(client.updateKeyRotationPolicy("rot", { lifetimeActions: [{ action: "Rotate", timeAfterCreate: "soon" }] }), 400, "BadParameter");

  // Backup → delete → purge → restore: same versions, same key material.
  const backup = await client.backupKey("rot");
  await (await client.beginDeleteKey("rot", FAST)).pollUntilDone();
  await client.purgeDeletedKey("rot");
  await expectError(client.getKey("rot"), 404, "KeyNotFound");
  const restored = await client.restoreKeyBackup(backup);
  assert.equal(restored.id, rotated.id);
  assert.deepEqual(Buffer.from((await cryptoClient(first.id).unwrapKey("RSA-OAEP-256", wrappedByFirst.result)).result), dek);
  const restoreConflict = await expectError(client.restoreKeyBackup(backup), 409, "Conflict");
  const tamperedBackup = Buffer.from(backup);
  tamperedBackup[tamperedBackup.length - 5] ^= 0x01;
  await client.createRsaKey("other", { keySize: 2048 });
  await (await client.beginDeleteKey("rot", FAST)).pollUntilDone();
  await client.purgeDeletedKey("rot");
  const badBackup = await expectError(client.restoreKeyBackup(tamperedBackup), 400, "BadParameter");

  // Import a JWK (BYOK): the vault uses the private part; only the public part comes back.
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = pair.privateKey.export({ format: "jwk" });
  const b = s => Buffer.from(s, "base64url");
  const imported = await client.importKey("byok", {
    kty: "RSA", n: b(jwk.n), e: b(jwk.e), d: b(jwk.d), p: b(jwk.p), q: b(jwk.q), dp: b(jwk.dp), dq: b(jwk.dq), qi: b(jwk.qi),
    keyOps: ["wrapKey", "unwrapKey"],
  }, { hardwareProtected: false, tags: { origin: "byok" } });
  assert.deepEqual(Buffer.from(imported.key.n), b(jwk.n));
  assert.equal(imported.key.d, undefined);
  assert.deepEqual(imported.keyOperations, ["wrapKey", "unwrapKey"]);
  const importedCrypto = cryptoClient(imported.id);
  const importedWrap = await importedCrypto.wrapKey("RSA-OAEP-256", dek);
  assert.deepEqual(Buffer.from((await importedCrypto.unwrapKey("RSA-OAEP-256", importedWrap.result)).result), dek);

  // Purge protection: purge refused; recover brings every version back.
  const protectedVault = await createVault(`${prefix}-protected`, { purgeProtection: true, policies: [policy(oid)] });
  assert.equal(protectedVault.properties.enablePurgeProtection, true);
  const pclient = keyClient(protectedVault.properties.vaultUri);
  const p1 = await pclient.createRsaKey("guarded", { keySize: 2048 });
  await pclient.createRsaKey("guarded", { keySize: 2048 });
  assert.equal(p1.properties.recoveryLevel, "CustomizedRecoverable");
  const deleted = await (await pclient.beginDeleteKey("guarded", FAST)).pollUntilDone();
  assert.equal(deleted.properties.recoveryLevel, "CustomizedRecoverable");
  const purgeRefused = await expectError(pclient.purgeDeletedKey("guarded"), 403, "Forbidden");
  await (await pclient.beginRecoverDeletedKey("guarded", FAST)).pollUntilDone();
  assert.equal((await collect(pclient.listPropertiesOfKeyVersions("guarded"))).length, 2);
  const wrapP1 = await cryptoClient(p1.id).wrapKey("RSA-OAEP-256", dek);
  assert.deepEqual(Buffer.from((await cryptoClient(p1.id).unwrapKey("RSA-OAEP-256", wrapP1.result)).result), dek);

  return {
    dek: dek.toString("base64"),
    importedD: jwk.d,
    importedP: jwk.p,
    defaultPolicy: { actions: defaultPolicy.lifetimeActions.map(a => [a.action, a.timeAfterCreate ?? null, a.timeBeforeExpiry ?? null]), expiresIn: defaultPolicy.expiresIn ?? null },
    badPolicy, restoreConflict, badBackup, purgeRefused,
  };
});
