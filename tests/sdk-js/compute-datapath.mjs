// The data path across a server restart (the C# test restarts between the phases and then scans the
// data directory). IRONCLAD_PHASE=before: a customer-key, a double-encrypted and a platform-key Upload
// disk, each written through a Write SAS (PUT ?comp=page, 512-aligned) and read back through a Read
// SAS, a snapshot of the customer-key disk, and a customer-key disk the C# test deletes afterwards
// (crypto-shredding). IRONCLAD_PHASE=after: every disk and the snapshot read back through a fresh
// Read SAS.
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_SEED (the known data). Prints one JSON summary with the
// scan patterns (base64) and the customer key ids (to unwrap stored DEKs as the vault admin).
import assert from "node:assert/strict";
import {
  ENCRYPTION, SEED, compute, createSet, customerVault, grantPolicy, kvm, keyClient, scanPatterns,
  uploadDisk, verifyData, writesFor,
  runCompute,
} from "./compute-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-datapath";
const prefix = process.env.IRONCLAD_PREFIX || "dp";
const phase = process.env.IRONCLAD_PHASE || "before";

const disks = {
  cmk: `${prefix}-cmk`,
  double: `${prefix}-double`,
  platform: `${prefix}-pmk`,
  shred: `${prefix}-shred`,
};

/** What each disk must hold (the known data of IRONCLAD_SEED). */
function expected() {
  return {
    cmk: writesFor("cmk"), snapshot: writesFor("cmk"), double: writesFor("double"), platform: writesFor("platform"), shred: writesFor("shred"),
  };
}

async function before() {
  const { vault, keys } = await customerVault(rg, `${prefix}-kv`);
  const key = await keys.createRsaKey(`${prefix}-key`, { keySize: 2048 });
  const set = await createSet(rg, `${prefix}-des`, { keyUrl: key.id, vault });
  await grantPolicy(vault, set.identity.principalId);
  const doubleSet = await createSet(rg, `${prefix}-des-double`, { keyUrl: key.id, vault, type: ENCRYPTION.double });
  await grantPolicy(vault, doubleSet.identity.principalId);

  const cmk = await uploadDisk(rg, disks.cmk, writesFor("cmk"), { set });
  await verifyData(rg, disks.cmk, writesFor("cmk"));
  await uploadDisk(rg, disks.double, writesFor("double"), { set: doubleSet });
  await verifyData(rg, disks.double, writesFor("double"));
  await uploadDisk(rg, disks.platform, writesFor("platform"));
  await verifyData(rg, disks.platform, writesFor("platform"));
  // The disk the C# test deletes after the restart (crypto-shredding).
  await uploadDisk(rg, disks.shred, writesFor("shred"), { set });

  // A snapshot of the customer-key disk: it shares the disk's DEK and reads the same data.
  await compute.snapshots.createOrUpdate(rg, `${prefix}-snap`, {
    location: "eastus", sku: { name: "Standard_LRS" },
    creationData: { createOption: "Copy", sourceResourceId: cmk.id },
    encryption: { type: ENCRYPTION.customer, diskEncryptionSetId: set.id },
  });
  const want = expected();
  await verifyData(rg, `${prefix}-snap`, want.snapshot, "snapshots");

  const all = [...want.cmk, ...want.double, ...want.platform, ...want.shred];
  return { seed: SEED, patterns: scanPatterns(all), keyIds: [key.id], vaultUri: vault.properties.vaultUri };
}

async function after() {
  const want = expected();
  const compared = {};
  for (const [label, name] of Object.entries(disks)) {
    const disk = await compute.disks.get(rg, name);
    assert.equal(disk.diskState, "Unattached", `${name} after the restart`);
    compared[label] = await verifyData(rg, name, want[label]);
  }
  compared.snapshot = await verifyData(rg, `${prefix}-snap`, want.snapshot, "snapshots");
  // The vault and its key survived too.
  const vault = await kvm.vaults.get(rg, `${prefix}-kv`);
  const key = await keyClient(vault.properties.vaultUri).getKey(`${prefix}-key`);
  return { seed: SEED, compared, keyIds: [key.id] };
}

await runCompute(phase === "after" ? after : before);
