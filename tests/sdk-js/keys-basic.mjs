// @azure/keyvault-keys 4.10.2 drives the keys data plane of a vault made through ARM: KeyClient through
// create (and a new version) / get (latest and by version) / list (paged) / versions / update / delete /
// list deleted / recover / purge, and CryptographyClients (versioned and versionless, from
// an id and from a key object) through wrap/unwrap/encrypt/decrypt with RSA-OAEP, RSA-OAEP-256 and
// RSA1_5 and sign/verify with all six algorithms; a disabled key; a tampered ciphertext.
// Env: IRONCLAD_VAULT (vault name). Prints one JSON summary; throws on any mismatch.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { run } from "./common.mjs";
import { FAST, collect, createVault, cryptoClient, expectError, keyClient, objectId, policy } from "./keys-common.mjs";

const vaultName = process.env.IRONCLAD_VAULT || "keys-basic";

run(async () => {
  const vault = await createVault(vaultName, { policies: [policy(await objectId())] });
  const url = vault.properties.vaultUri;
  const origin = url.replace(/\/$/, "");
  const client = keyClient(url);

  // Create, get (latest: trailing slash; by version), attributes from the vault.
  const created = await client.createRsaKey("k1", { keySize: 2048, tags: { purpose: "sdk" } });
  assert.equal(created.keyType, "RSA");
  assert.match(created.id, new RegExp(`^${origin}/keys/k1/[0-9a-f]{32}$`));
  assert.equal(created.key.n.length, 256);
  assert.deepEqual([...created.key.e], [1, 0, 1]);
  assert.deepEqual(created.keyOperations, ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]);
  assert.equal(created.properties.recoveryLevel, "CustomizedRecoverable+Purgeable");
  assert.equal(created.properties.recoverableDays, 7);
  assert.equal(created.properties.enabled, true);
  assert.deepEqual(created.properties.tags, { purpose: "sdk" });
  const latest = await client.getKey("k1");
  assert.equal(latest.id, created.id);
  const byVersion = await client.getKey("k1", { version: created.properties.version });
  assert.deepEqual(Buffer.from(byVersion.key.n), Buffer.from(created.key.n));
  const missing = await expectError(client.getKey("nope"), 404, "KeyNotFound");

  // Update, rotate, versions, list.
  const updated = await client.updateKeyProperties("k1", created.properties.version, { tags: { purpose: "sdk", stage: "2" } });
  assert.equal(updated.properties.tags.stage, "2");
  const rotated = await client.createRsaKey("k1", { keySize: 2048 });
  assert.notEqual(rotated.properties.version, created.properties.version);
  assert.equal((await client.getKey("k1")).properties.version, rotated.properties.version);
  const versions = await collect(client.listPropertiesOfKeyVersions("k1"));
  assert.deepEqual(versions.map(v => v.version).sort(), [created.properties.version, rotated.properties.version].sort());
  await client.createRsaKey("k2", { keySize: 2048 });
  const listed = await collect(client.listPropertiesOfKeys());
  assert.deepEqual(listed.map(k => k.name).sort(), ["k1", "k2"]);
  const paged = [];
  for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 1 })) paged.push(page.length);
  assert.deepEqual(paged, [1, 1]);

  // Crypto: versioned client from the id, versionless from the versionless id, from the key object.
  const dek = randomBytes(32);
  const results = {};
  const clients = {
    versioned: cryptoClient(rotated.id),
    versionless: cryptoClient(`${origin}/keys/k1`),
    object: cryptoClient(rotated),
  };
  for (const [kind, crypto] of Object.entries(clients)) {
    for (const alg of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
      const wrapped = await crypto.wrapKey(alg, dek);
      assert.equal(wrapped.result.length, 256);
      const unwrapped = await crypto.unwrapKey(alg, wrapped.result);
      assert.deepEqual(Buffer.from(unwrapped.result), dek, `${kind} ${alg}`);
      assert.equal(unwrapped.keyID, rotated.id);
      const encrypted = await crypto.encrypt({ algorithm: alg, plaintext: Buffer.from("attack at dawn") });
      const decrypted = await crypto.decrypt({ algorithm: alg, ciphertext: encrypted.result });
      assert.equal(Buffer.from(decrypted.result).toString(), "attack at dawn");
      results[`${kind}:${alg}`] = true;
    }
  }

  const signer = clients.versionless;
  for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]) {
    const hash = { RS256: "sha256", RS384: "sha384", RS512: "sha512", PS256: "sha256", PS384: "sha384", PS512: "sha512" }[alg];
    const digest = createHash(hash).update("message").digest();
    const signed = await signer.sign(alg, digest);
    assert.equal(signed.result.length, 256);
    assert.equal((await signer.verify(alg, digest, signed.result)).result, true, alg);
    const other = createHash(hash).update("other").digest();
    assert.equal((await signer.verify(alg, other, signed.result)).result, false, alg);
    results[alg] = true;
  }

  // A tampered ciphertext: 400, nothing leaks.
  const good = await clients.versioned.wrapKey("RSA-OAEP-256", dek);
  const tampered = Buffer.from(good.result);
  tampered[10] ^= 0x01;
  const tamperedError = await expectError(clients.versioned.unwrapKey("RSA-OAEP-256", tampered), 400, "BadParameter");

  // A disabled key: unwrap refused (KeyDisabled), wrap still works (local RSA-OAEP and remote RSA-OAEP-256).
  const k2 = await client.getKey("k2");
  const k2Crypto = cryptoClient(k2.id);
  const wrappedBefore = await k2Crypto.wrapKey("RSA-OAEP-256", dek);
  await client.updateKeyProperties("k2", k2.properties.version, { enabled: false });
  const disabledCrypto = cryptoClient(k2.id);
  const disabled = await expectError(disabledCrypto.unwrapKey("RSA-OAEP-256", wrappedBefore.result), 403, "Forbidden");
  const wrapDisabled = await disabledCrypto.wrapKey("RSA-OAEP-256", dek);
  assert.equal(wrapDisabled.result.length, 256);
  await client.updateKeyProperties("k2", k2.properties.version, { enabled: true });
  assert.deepEqual(Buffer.from((await k2Crypto.unwrapKey("RSA-OAEP-256", wrappedBefore.result)).result), dek);

  // Delete (immediately visible as deleted), create refused while deleted, purge.
  const deleted = await (await client.beginDeleteKey("k2", FAST)).pollUntilDone();
  assert.equal(deleted.properties.recoveryId, `${origin}/deletedkeys/k2`);
  assert.ok(deleted.properties.deletedOn instanceof Date);
  assert.ok(deleted.properties.scheduledPurgeDate > deleted.properties.deletedOn);
  const deletedList = await collect(client.listDeletedKeys());
  assert.deepEqual(deletedList.map(k => k.name), ["k2"]);
  await expectError(client.getKey("k2"), 404, "KeyNotFound");
  const conflict = await expectError(client.createRsaKey("k2"), 409, "Conflict");
  await client.purgeDeletedKey("k2");
  await expectError(client.getDeletedKey("k2"), 404);
  assert.deepEqual((await collect(client.listDeletedKeys())).map(k => k.name), []);

  // Delete and recover k1: its versions and policy come back.
  await (await client.beginDeleteKey("k1", FAST)).pollUntilDone();
  const recovered = await (await client.beginRecoverDeletedKey("k1", FAST)).pollUntilDone();
  assert.equal(recovered.id, rotated.id);
  assert.equal((await collect(client.listPropertiesOfKeyVersions("k1"))).length, 2);

  return {
    vaultUri: url,
    k1: rotated.id,
    dek: dek.toString("base64"),
    wrappedK1: Buffer.from((await clients.versioned.wrapKey("RSA-OAEP-256", dek)).result).toString("base64"),
    crypto: results,
    missing,
    tampered: tamperedError,
    disabled,
    conflict,
  };
});
