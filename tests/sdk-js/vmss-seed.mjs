// The seed's scale set through @azure/arm-compute 25.1.1, in two phases (IRONCLAD_PHASE) around the C#
// side's qemu-io on an instance's disk:
//   create  the customer-key setup, a Uniform scale set of capacity 2 from a marketplace image with a
//           customer-key OS disk and an Empty customer-key data disk (beginCreateOrUpdateAndWait);
//           virtualMachineScaleSetVMs.list shows each instance with its own disks, real Attached disks of
//           the group managed by the instance; instance views with NBD exports; instance 0's NBD
//           credentials written to IRONCLAD_CERT_DIR
//   scale   set-level powerOff/start of one instance; scale out to 3 and in to 1 (beginUpdateAndWait
//           sku.capacity: the highest ids go and their disks are shredded); deleteInstances; delete.
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_PHASE, IRONCLAD_CERT_DIR, IRONCLAD_SEED. Prints one JSON summary.
import assert from "node:assert/strict";
import { collect, compute, runCompute } from "./compute-common.mjs";
import { MINIMAL_IMAGE, diskOrMissing, issueNbdCredentials, nameOf, rawBody, seedKeySetup, summarizeView, vmssPath } from "./vm-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-vmss";
const prefix = process.env.IRONCLAD_PREFIX || "ss";
const name = `${prefix}-set`;
const certDir = process.env.IRONCLAD_CERT_DIR;

const lower = s => String(s).toLowerCase();

/** Every instance with its disks, checked: own OS and data disk, Attached, managedBy the instance, with the set. */
async function instances(set) {
  const list = await collect(compute.virtualMachineScaleSetVMs.list(rg, name));
  const out = [];
  for (const vm of list) {
    assert.equal(vm.type, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines");
    assert.equal(vm.name, `${name}_${vm.instanceId}`, "an instance is named {set}_{instanceId}, as in Azure");
    const os = vm.storageProfile?.osDisk;
    const data = vm.storageProfile?.dataDisks ?? [];
    assert.ok(os?.managedDisk?.id, `instance ${vm.instanceId} has an OS disk: ${JSON.stringify(vm.storageProfile)}`);
    assert.equal(data.length, 1, `instance ${vm.instanceId} has its data disk`);
    const disks = [];
    for (const id of [os.managedDisk.id, data[0].managedDisk.id]) {
      const d = await compute.disks.get(rg, nameOf(id));
      assert.equal(d.diskState, "Attached", `${d.name}`);
      assert.equal(lower(d.managedBy), lower(vm.id), `${d.name} is managed by its instance`);
      assert.equal(d.encryption?.type, "EncryptionAtRestWithCustomerKey");
      assert.equal(lower(d.encryption?.diskEncryptionSetId), lower(set.id));
      disks.push(d.name);
    }
    assert.match(disks[0], new RegExp(`^${name}_${vm.instanceId}_OsDisk_1_[0-9a-f]{32}$`));
    out.push({ instanceId: vm.instanceId, name: vm.name, id: vm.id, disks });
  }
  return out.sort((a, b) => Number(a.instanceId) - Number(b.instanceId));
}

async function create() {
  const { set } = await seedKeySetup(rg, prefix);
  const created = await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(rg, name, {
    location: "eastus",
    sku: { name: "Standard_D2s_v3", tier: "Standard", capacity: 2 },
    upgradePolicy: { mode: "Manual" },
    virtualMachineProfile: {
      storageProfile: {
        imageReference: MINIMAL_IMAGE,
        osDisk: { createOption: "FromImage", caching: "ReadWrite", managedDisk: { storageAccountType: "Premium_LRS", diskEncryptionSet: { id: set.id } } },
        dataDisks: [{ lun: 0, createOption: "Empty", diskSizeGB: 1, managedDisk: { storageAccountType: "Premium_LRS", diskEncryptionSet: { id: set.id } } }],
      },
      osProfile: { computerNamePrefix: prefix, adminUsername: "azureuser", adminPassword: "Ironclad-Pa55word!" },
      networkProfile: { networkInterfaceConfigurations: [] },
    },
  });
  assert.equal(created.provisioningState, "Succeeded");
  assert.equal(created.sku.capacity, 2);
  assert.ok(created.uniqueId, "a scale set has a uniqueId");
  assert.equal(created.virtualMachineProfile?.osProfile?.adminPassword, undefined, "the admin password is never returned");

  const initial = await instances(set);
  assert.deepEqual(initial.map(i => i.instanceId), ["0", "1"]);
  const allDisks = initial.flatMap(i => i.disks);
  assert.equal(new Set(allDisks).size, 4, "each instance has its own disks");

  // The instance view of an instance: running, with its NBD exports (the raw body keeps our extension).
  let raw;
  const iv = await compute.virtualMachineScaleSetVMs.getInstanceView(rg, name, "0", { onResponse: r => { raw = r; } });
  const view0 = summarizeView(iv, rawBody(raw));
  assert.equal(view0.power, "PowerState/running", JSON.stringify(view0));
  assert.equal(view0.nbd?.exports?.length, 2, `instance 0 exports its OS and data disk: ${JSON.stringify(view0.nbd)}`);
  const credentials = await issueNbdCredentials(`${vmssPath(rg, name)}/virtualMachines/0`, certDir, 1);
  assert.match(credentials.clientCertificateSubject, /^CN=vm-[0-9a-f-]{36}$/);
  let raw1;
  const iv1 = await compute.virtualMachineScaleSetVMs.getInstanceView(rg, name, "1", { onResponse: r => { raw1 = r; } });
  const view1 = summarizeView(iv1, rawBody(raw1));
  assert.notEqual(view1.nbd?.clientCertificateSubject, view0.nbd?.clientCertificateSubject, "each instance has its own certificate subject");

  // Scale-set instances are not in the VM lists.
  const vms = (await collect(compute.virtualMachines.list(rg))).map(v => v.name);
  assert.deepEqual(vms, []);
  return { uniqueId: created.uniqueId, initial, view0, view1 };
}

async function scale() {
  const set = await compute.diskEncryptionSets.get(rg, `${prefix}-des`);
  const initial = await instances(set);

  // Power on one instance through the set.
  await compute.virtualMachineScaleSets.beginPowerOffAndWait(rg, name, { vmInstanceIDs: { instanceIds: ["1"] } });
  const stopped1 = await compute.virtualMachineScaleSetVMs.getInstanceView(rg, name, "1");
  assert.ok(stopped1.statuses.some(s => s.code === "PowerState/stopped"), `instance 1 stopped: ${JSON.stringify(stopped1.statuses)}`);
  await compute.virtualMachineScaleSets.beginStartAndWait(rg, name, { vmInstanceIDs: { instanceIds: ["1"] } });

  // Scale out to 3, then in to 1.
  const out = await compute.virtualMachineScaleSets.beginUpdateAndWait(rg, name, { sku: { capacity: 3 } });
  assert.equal(out.sku.capacity, 3);
  const scaledOut = await instances(set);
  assert.deepEqual(scaledOut.map(i => i.instanceId), ["0", "1", "2"]);
  for (const i of initial) {
    assert.deepEqual(scaledOut.find(s => s.instanceId === i.instanceId).disks, i.disks, `instance ${i.instanceId} keeps its disks when the set scales out`);
  }
  const inn = await compute.virtualMachineScaleSets.beginUpdateAndWait(rg, name, { sku: { capacity: 1 } });
  assert.equal(inn.sku.capacity, 1);
  const scaledIn = await instances(set);
  assert.deepEqual(scaledIn.map(i => i.instanceId), ["0"]);
  const goneDisks = scaledOut.filter(i => i.instanceId !== "0").flatMap(i => i.disks);
  for (const disk of goneDisks) {
    assert.ok((await diskOrMissing(rg, disk)).missing, `${disk} of a removed instance is deleted`);
  }

  // Scale out again (next ids), then deleteInstances removes one.
  await compute.virtualMachineScaleSets.beginUpdateAndWait(rg, name, { sku: { capacity: 2 } });
  const again = await instances(set);
  assert.equal(again.length, 2);
  const newest = again.find(i => i.instanceId !== "0");
  await compute.virtualMachineScaleSets.beginDeleteInstancesAndWait(rg, name, { instanceIds: [newest.instanceId] });
  const afterDeleteInstances = await instances(set);
  assert.deepEqual(afterDeleteInstances.map(i => i.instanceId), ["0"]);
  assert.equal((await compute.virtualMachineScaleSets.get(rg, name)).sku.capacity, 1, "deleteInstances lowers the capacity");
  for (const disk of newest.disks) assert.ok((await diskOrMissing(rg, disk)).missing, `${disk} of a deleted instance is gone`);

  // Delete the set: its instances and their disks go.
  await compute.virtualMachineScaleSets.beginDeleteAndWait(rg, name);
  const left = [];
  for (const disk of afterDeleteInstances[0].disks) if (!(await diskOrMissing(rg, disk)).missing) left.push(disk);
  assert.deepEqual(left, [], "deleting the set deletes its instances' disks");
  const sets = (await collect(compute.virtualMachineScaleSets.list(rg))).map(s => s.name);
  assert.deepEqual(sets, []);
  return {
    scaledOut: scaledOut.map(i => i.instanceId), scaledIn: scaledIn.map(i => i.instanceId),
    afterRescale: again.map(i => i.instanceId), deletedInstance: newest.instanceId,
  };
}

runCompute(async () => {
  const phase = process.env.IRONCLAD_PHASE || "create";
  if (phase === "create") assert.ok(certDir, "IRONCLAD_CERT_DIR is required");
  return { phase, ...(phase === "create" ? await create() : await scale()) };
});
