// RSA-HSM keys through @azure/keyvault-keys 4.10.2 against a server in HSM mode (SoftHSM2 token).
// IRONCLAD_PHASE=before: a standard vault refuses RSA-HSM (400 BadParameter); a premium vault creates
// keys with createKey(name, "RSA-HSM"), createRsaKey({hsm: true}) and importKey({hardwareProtected})
// (the JWK in IRONCLAD_IMPORT_JWK); every key wraps/unwraps with RSA-OAEP, RSA-OAEP-256 and RSA1_5,
// decrypts what node:crypto encrypted with its public key, and signs (RS256, PS256) what node:crypto
// and the service verify; then a DEK (IRONCLAD_DEK) is wrapped for the phase after a restart.
// IRONCLAD_PHASE=after (IRONCLAD_WRAPPED): the same key unwraps it. Prints one JSON summary.
import assert from "node:assert/strict";
import { constants, createHash, createPublicKey, publicEncrypt, randomBytes, verify } from "node:crypto";
import { run, TENANT } from "./common.mjs";
import { createVault, cryptoClient, expectError, keyClient, kvm, objectId, policy } from "./keys-common.mjs";

const vaultName = process.env.IRONCLAD_VAULT || "keys-hsm";
const phase = process.env.IRONCLAD_PHASE || "before";

/** The key's public part as a node:crypto KeyObject (from the JWK the service returned). */
function publicKeyOf(key) {
  const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
  return createPublicKey({ key: { kty: "RSA", n: b64(key.key.n), e: b64(key.key.e) }, format: "jwk" });
}

async function exercise(key) {
  assert.equal(key.keyType, "RSA-HSM", `${key.name}: kty`);
  const crypto = cryptoClient(key.id);
  const pub = publicKeyOf(key);

  for (const algorithm of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
    const cek = randomBytes(32);
    const wrapped = await crypto.wrapKey(algorithm, cek);
    const unwrapped = await crypto.unwrapKey(algorithm, wrapped.result);
    assert.deepEqual(Buffer.from(unwrapped.result), cek, `${key.name}: ${algorithm} round trip`);
    const tampered = Buffer.from(wrapped.result);
    tampered[7] ^= 1;
    await expectError(crypto.unwrapKey(algorithm, tampered), 400, "BadParameter");
  }

  // Encrypted outside the service with the public key only: the token's private key decrypts it.
  for (const [algorithm, padding, oaepHash] of [
    ["RSA-OAEP-256", constants.RSA_PKCS1_OAEP_PADDING, "sha256"],
    ["RSA-OAEP", constants.RSA_PKCS1_OAEP_PADDING, "sha1"],
    ["RSA1_5", constants.RSA_PKCS1_PADDING, undefined],
  ]) {
    const plaintext = randomBytes(24);
    const ciphertext = publicEncrypt({ key: pub, padding, oaepHash }, plaintext);
    const decrypted = await crypto.decrypt({ algorithm, ciphertext });
    assert.deepEqual(Buffer.from(decrypted.result), plaintext, `${key.name}: ${algorithm} decrypt of node:crypto's ciphertext`);
  }

  // Signed in the token, verified by node:crypto and by the service.
  const data = Buffer.from(`signed by ${key.name}`);
  const digest = createHash("sha256").update(data).digest();
  for (const [algorithm, padding] of [["RS256", constants.RSA_PKCS1_PADDING], ["PS256", constants.RSA_PKCS1_PSS_PADDING]]) {
    const signed = await crypto.sign(algorithm, digest);
    assert.ok(verify("sha256", data, { key: pub, padding, saltLength: 32 }, Buffer.from(signed.result)), `${key.name}: ${algorithm} verifies in node:crypto`);
    assert.equal((await crypto.verify(algorithm, digest, signed.result)).result, true, `${key.name}: ${algorithm} verifies in the service`);
    const other = Buffer.from(signed.result);
    other[0] ^= 1;
    assert.equal((await crypto.verify(algorithm, digest, other)).result, false);
  }

  return key.properties.version;
}

run(async () => {
  if (phase === "after") {
    const vault = await kvm.vaults.get("rg-keys", vaultName);
    const key = await keyClient(vault.properties.vaultUri).getKey("hsm-created");
    assert.equal(key.keyType, "RSA-HSM");
    const unwrapped = await cryptoClient(key.id).unwrapKey("RSA-OAEP-256", Buffer.from(process.env.IRONCLAD_WRAPPED, "base64"));
    return { kid: key.id, dek: Buffer.from(unwrapped.result).toString("base64") };
  }

  const oid = await objectId();
  // A standard vault (this also creates the resource group): no RSA-HSM keys there.
  const standard = await createVault(`${vaultName}-std`, { policies: [policy(oid)] });
  const refused = await expectError(keyClient(standard.properties.vaultUri).createKey("no-hsm", "RSA-HSM"), 400, "BadParameter");

  const premium = await kvm.vaults.createOrUpdate("rg-keys", vaultName, {
    location: "eastus",
    properties: {
      tenantId: TENANT,
      sku: { family: "A", name: "premium" },
      accessPolicies: [policy(oid)],
      enableSoftDelete: true,
      softDeleteRetentionInDays: 7,
    },
  });
  assert.equal(premium.properties.sku.name, "premium");
  const client = keyClient(premium.properties.vaultUri);

  const created = await client.createKey("hsm-created", "RSA-HSM", { keySize: 2048 });
  const viaFlag = await client.createRsaKey("hsm-flag", { hsm: true, keySize: 3072 });
  assert.equal(viaFlag.key.n.length, 384);
  const jwk = JSON.parse(process.env.IRONCLAD_IMPORT_JWK);
  const fromB64 = (s) => new Uint8Array(Buffer.from(s, "base64url"));
  const imported = await client.importKey("hsm-byok", {
    kty: "RSA-HSM",
    keyOps: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
    n: fromB64(jwk.n), e: fromB64(jwk.e), d: fromB64(jwk.d), p: fromB64(jwk.p), q: fromB64(jwk.q),
    dp: fromB64(jwk.dp), dq: fromB64(jwk.dq), qi: fromB64(jwk.qi),
  }, { hardwareProtected: true });
  assert.equal(Buffer.from(imported.key.n).toString("base64url"), jwk.n);
  // The service never hands the private part back.
  for (const key of [created, viaFlag, imported]) {
    assert.equal(key.key.d, undefined);
    assert.equal(key.key.p, undefined);
  }

  const versions = {
    "hsm-created": await exercise(created),
    "hsm-flag": await exercise(viaFlag),
    "hsm-byok": await exercise(imported),
  };

  const wrapped = await cryptoClient(created.id).wrapKey("RSA-OAEP-256", Buffer.from(process.env.IRONCLAD_DEK, "base64"));
  return {
    vaultUri: premium.properties.vaultUri,
    refusedOnStandard: refused.code,
    versions,
    wrapped: Buffer.from(wrapped.result).toString("base64"),
  };
});
