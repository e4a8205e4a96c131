// The seed's VM scenario through @azure/arm-compute 25.1.1, in phases the C# test interleaves with
// qemu-io / nbdcopy and a server restart (IRONCLAD_PHASE):
//   create  vault (soft delete + purge protection), key, set, grant; the catalog through virtualMachineImages
//           (publishers → offers → skus → versions → get); a VM from a marketplace image with a
//           customer-key OS disk and an Empty customer-key data disk; its disks, instance view (running,
//           NBD exports) and NBD credentials (PEMs written to IRONCLAD_CERT_DIR)
//   stop    beginPowerOffAndWait → PowerState/stopped, no exports, disks still Attached
//   start   beginStartAndWait, beginDeallocateAndWait (deallocated), beginStartAndWait, beginRestartAndWait → running
//   status  the instance view (after a server restart the VM must be running again)
//   images  snapshot of the OS disk, a custom image from it, a second VM from the custom image (CMK OS
//           disk); a data disk attached and detached by beginUpdateAndWait and by
//           beginAttachDetachDataDisksAndWait; lists
//   deallocate2 / status2  the second VM deallocated; after another server restart the first runs, the second stays deallocated
//   delete  an attached disk cannot be deleted; deleting the VMs shreds their OS disks (deleteOption
//           Delete) and detaches the data disk (Unattached, managedBy null)
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_PHASE, IRONCLAD_CERT_DIR, IRONCLAD_SEED. Prints one JSON summary.
import assert from "node:assert/strict";
import { LOCATION, collect, compute, createEmptyDisk, expectRefusal, runCompute } from "./compute-common.mjs";
import {
  MARKETPLACE, MINIMAL_IMAGE, diskOrMissing, diskSummary, instanceView, issueNbdCredentials, nameOf, seedKeySetup, vmBody, vmPath,
} from "./vm-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-vm";
const prefix = process.env.IRONCLAD_PREFIX || "vm";
const phase = process.env.IRONCLAD_PHASE || "create";
const certDir = process.env.IRONCLAD_CERT_DIR;
const vm1 = `${prefix}-1`;
const vm2 = `${prefix}-2`;

const sameId = (a, b) => assert.equal(String(a).toLowerCase(), String(b).toLowerCase());

async function setOf() {
  return compute.diskEncryptionSets.get(rg, `${prefix}-des`);
}

function assertRunningWithExports(view, vmId, luns) {
  assert.equal(view.power, "PowerState/running", `instance view: ${JSON.stringify(view)}`);
  assert.ok(view.nbd, `a running VM's instance view has the nbd block: ${JSON.stringify(view)}`);
  assert.match(view.nbd.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(view.nbd.tls, "required");
  assert.equal(view.nbd.clientCertificateSubject, `CN=vm-${vmId}`);
  const names = view.nbd.exports.map(e => e.exportName).sort();
  const expected = [`vm/${vmId}/os`, ...luns.map(l => `vm/${vmId}/lun/${l}`)].sort();
  assert.deepEqual(names, expected, "the running VM exports its OS disk and each data disk");
}

/** The catalog as virtualMachineImages lists it: publisher → offer → sku → versions → one version's details. */
async function marketplaceListing() {
  const { publisher, offer, sku } = MARKETPLACE;
  const names = list => list.map(r => r.name);
  const publishers = names(await compute.virtualMachineImages.listPublishers(LOCATION));
  assert.ok(publishers.includes(publisher) && publishers.includes(MINIMAL_IMAGE.publisher), `publishers: ${publishers}`);
  const offers = names(await compute.virtualMachineImages.listOffers(LOCATION, publisher));
  assert.ok(offers.includes(offer), `offers of ${publisher}: ${offers}`);
  const skus = names(await compute.virtualMachineImages.listSkus(LOCATION, publisher, offer));
  assert.ok(skus.includes(sku), `skus of ${offer}: ${skus}`);
  const versions = await compute.virtualMachineImages.list(LOCATION, publisher, offer, sku);
  assert.ok(versions.length >= 1, "at least one version");
  for (const v of versions) assert.equal(v.location, LOCATION);
  const newest = versions.map(v => v.name).sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1);
  const image = await compute.virtualMachineImages.get(LOCATION, publisher, offer, sku, newest);
  assert.equal(image.name, newest);
  assert.equal(image.osDiskImage?.operatingSystem, "Linux");
  return { publishers, offers, skus, versions: versions.map(v => v.name), newest };
}

const phases = {
  async create() {
    const { vault, key, set } = await seedKeySetup(rg, prefix);
    const market = await marketplaceListing();
    const created = await compute.virtualMachines.beginCreateOrUpdateAndWait(rg, vm1, vmBody({
      image: MARKETPLACE, set, computerName: vm1,
      dataDisks: [{ lun: 0, createOption: "Empty", diskSizeGB: 1, managedDisk: { storageAccountType: "Premium_LRS", diskEncryptionSet: { id: set.id } } }],
    }));
    assert.equal(created.provisioningState, "Succeeded");
    assert.match(created.vmId, /^[0-9a-f-]{36}$/);
    assert.equal(created.osProfile?.adminPassword, undefined, "the admin password is never returned");
    const os = created.storageProfile.osDisk;
    assert.match(os.name, new RegExp(`^${vm1}_OsDisk_1_[0-9a-f]{32}$`));
    sameId(os.managedDisk.diskEncryptionSet.id, set.id);
    const data = created.storageProfile.dataDisks;
    assert.equal(data.length, 1);
    assert.match(data[0].name, new RegExp(`^${vm1}_disk1_[0-9a-f]{32}$`));
    sameId(data[0].managedDisk.diskEncryptionSet.id, set.id);

    const osDisk = await diskSummary(rg, nameOf(os.managedDisk.id));
    const dataDisk = await diskSummary(rg, nameOf(data[0].managedDisk.id));
    for (const d of [osDisk, dataDisk]) {
      assert.equal(d.diskState, "Attached", `${d.name}: ${JSON.stringify(d)}`);
      sameId(d.managedBy, created.id);
      assert.equal(d.encryption, "EncryptionAtRestWithCustomerKey");
      sameId(d.setId, set.id);
    }
    assert.equal(osDisk.createOption, "FromImage");
    assert.match(osDisk.imageId ?? "", /\/Publishers\/Canonical\/ArtifactTypes\/VMImage\/Offers\/ubuntu-24_04-lts\/Skus\/server\/Versions\//i);
    assert.equal(dataDisk.sizeGB, 1);
    assert.ok(osDisk.imageId.endsWith(`/Versions/${market.newest}`), `"latest" resolves to the newest version ${market.newest}: ${osDisk.imageId}`);

    const view = await instanceView(rg, vm1);
    assertRunningWithExports(view, created.vmId, [0]);
    const credentials = await issueNbdCredentials(vmPath(rg, vm1), certDir);
    assert.equal(credentials.clientCertificateSubject, `CN=vm-${created.vmId}`);
    return {
      vmId: created.vmId, vmResourceId: created.id, keyId: key.id, keyName: key.name, vaultUri: vault.properties.vaultUri,
      osDisk, dataDisk, view, credentials, market,
    };
  },

  async stop() {
    const vm = await compute.virtualMachines.get(rg, vm1);
    await compute.virtualMachines.beginPowerOffAndWait(rg, vm1);
    const view = await instanceView(rg, vm1);
    assert.equal(view.power, "PowerState/stopped", JSON.stringify(view));
    assert.equal(view.nbd, null, "a stopped VM has no NBD exports");
    const os = await diskSummary(rg, nameOf(vm.storageProfile.osDisk.managedDisk.id));
    assert.equal(os.diskState, "Attached", "a stopped VM keeps its disks");
    return { view };
  },

  async start() {
    const vm = await compute.virtualMachines.get(rg, vm1);
    const views = {};
    await compute.virtualMachines.beginStartAndWait(rg, vm1);
    views.started = await instanceView(rg, vm1);
    assertRunningWithExports(views.started, vm.vmId, [0]);
    await compute.virtualMachines.beginDeallocateAndWait(rg, vm1);
    views.deallocated = await instanceView(rg, vm1);
    assert.equal(views.deallocated.power, "PowerState/deallocated");
    assert.equal(views.deallocated.nbd, null);
    await compute.virtualMachines.beginStartAndWait(rg, vm1);
    await compute.virtualMachines.beginRestartAndWait(rg, vm1);
    views.restarted = await instanceView(rg, vm1);
    assertRunningWithExports(views.restarted, vm.vmId, [0]);
    const expanded = await compute.virtualMachines.get(rg, vm1, { expand: "instanceView" });
    assert.ok(expanded.instanceView?.statuses?.some(s => s.code === "PowerState/running"), "$expand=instanceView carries the power state");
    return { view: views.restarted, views };
  },

  async status() {
    const vm = await compute.virtualMachines.get(rg, vm1);
    const view = await instanceView(rg, vm1);
    assertRunningWithExports(view, vm.vmId, [0]);
    return { view };
  },

  async images() {
    const set = await setOf();
    const vm = await compute.virtualMachines.get(rg, vm1);
    const snapshot = await compute.snapshots.createOrUpdate(rg, `${prefix}-snap`, {
      location: vm.location, sku: { name: "Standard_LRS" },
      creationData: { createOption: "Copy", sourceResourceId: vm.storageProfile.osDisk.managedDisk.id },
      encryption: { type: "EncryptionAtRestWithCustomerKey", diskEncryptionSetId: set.id },
    });
    assert.equal(snapshot.provisioningState, "Succeeded");
    const image = await compute.images.createOrUpdate(rg, `${prefix}-image`, {
      location: vm.location, hyperVGeneration: "V2",
      storageProfile: { osDisk: { osType: "Linux", osState: "Generalized", snapshot: { id: snapshot.id }, diskEncryptionSet: { id: set.id } }, dataDisks: [] },
    });
    assert.equal(image.provisioningState, "Succeeded");

    const second = await compute.virtualMachines.beginCreateOrUpdateAndWait(rg, vm2, vmBody({ image: { id: image.id }, set, computerName: vm2 }));
    assert.equal(second.provisioningState, "Succeeded");
    sameId(second.storageProfile.osDisk.managedDisk.diskEncryptionSet.id, set.id);
    const os2 = await diskSummary(rg, nameOf(second.storageProfile.osDisk.managedDisk.id));
    assert.equal(os2.diskState, "Attached");
    assert.equal(os2.encryption, "EncryptionAtRestWithCustomerKey");
    sameId(os2.imageId, image.id);

    // Attach a separate customer-key disk by update (hot: the VM runs), then detach it.
    const extra = await createEmptyDisk(rg, `${prefix}-extra`, { set, sizeGB: 1 });
    const attached = await compute.virtualMachines.beginUpdateAndWait(rg, vm2, {
      storageProfile: { dataDisks: [{ lun: 1, createOption: "Attach", managedDisk: { id: extra.id } }] },
    });
    assert.deepEqual(attached.storageProfile.dataDisks.map(d => d.lun), [1]);
    const extraAttached = await diskSummary(rg, extra.name);
    assert.equal(extraAttached.diskState, "Attached");
    sameId(extraAttached.managedBy, second.id);
    const viewAttached = await instanceView(rg, vm2);
    assertRunningWithExports(viewAttached, second.vmId, [1]);
    const deleteAttached = await expectRefusal(compute.disks.beginDeleteAndWait(rg, extra.name), "deleting an attached disk");

    const detached = await compute.virtualMachines.beginUpdateAndWait(rg, vm2, { storageProfile: { dataDisks: [] } });
    assert.deepEqual(detached.storageProfile.dataDisks ?? [], []);
    const extraDetached = await diskSummary(rg, extra.name);
    assert.equal(extraDetached.diskState, "Unattached");
    assert.equal(extraDetached.managedBy, null);
    const viewDetached = await instanceView(rg, vm2);
    assertRunningWithExports(viewDetached, second.vmId, []);

    // The dedicated operation does the same: attach at the first free lun, then detach by disk id.
    const viaAction = await compute.virtualMachines.beginAttachDetachDataDisksAndWait(rg, vm2, { dataDisksToAttach: [{ diskId: extra.id }] });
    assert.deepEqual(viaAction.dataDisks.map(d => d.lun), [0]);
    sameId(viaAction.dataDisks[0].managedDisk.id, extra.id);
    assert.equal((await diskSummary(rg, extra.name)).diskState, "Attached");
    assertRunningWithExports(await instanceView(rg, vm2), second.vmId, [0]);
    const afterDetach = await compute.virtualMachines.beginAttachDetachDataDisksAndWait(rg, vm2, { dataDisksToDetach: [{ diskId: extra.id }] });
    assert.deepEqual(afterDetach.dataDisks ?? [], []);
    assert.equal((await diskSummary(rg, extra.name)).diskState, "Unattached");
    assertRunningWithExports(await instanceView(rg, vm2), second.vmId, []);

    const inGroup = (await collect(compute.virtualMachines.list(rg))).map(v => v.name).sort();
    assert.deepEqual(inGroup, [vm1, vm2]);
    const all = (await collect(compute.virtualMachines.listAll())).map(v => v.name);
    assert.ok(all.includes(vm1) && all.includes(vm2), `listAll: ${all}`);

    const credentials = await issueNbdCredentials(vmPath(rg, vm2), certDir);
    return { vm2Id: second.vmId, image: image.id, snapshot: snapshot.id, os2, view: viewDetached, credentials, deleteAttached, extraAttached, extraDetached };
  },

  async deallocate2() {
    await compute.virtualMachines.beginDeallocateAndWait(rg, vm2);
    const view = await instanceView(rg, vm2);
    assert.equal(view.power, "PowerState/deallocated");
    return { view };
  },

  async status2() {
    const first = await compute.virtualMachines.get(rg, vm1);
    const view1 = await instanceView(rg, vm1);
    assertRunningWithExports(view1, first.vmId, [0]);
    const view2 = await instanceView(rg, vm2);
    assert.equal(view2.power, "PowerState/deallocated", `a deallocated VM stays deallocated across a server restart: ${JSON.stringify(view2)}`);
    assert.equal(view2.nbd, null);
    return { view: view1, view2 };
  },

  async delete() {
    const first = await compute.virtualMachines.get(rg, vm1);
    const second = await compute.virtualMachines.get(rg, vm2);
    const os1 = nameOf(first.storageProfile.osDisk.managedDisk.id);
    const data1 = nameOf(first.storageProfile.dataDisks[0].managedDisk.id);
    const os2 = nameOf(second.storageProfile.osDisk.managedDisk.id);
    const deleteAttached = await expectRefusal(compute.disks.beginDeleteAndWait(rg, data1), "deleting a disk attached to a VM");

    await compute.virtualMachines.beginDeleteAndWait(rg, vm2);
    await compute.virtualMachines.beginDeleteAndWait(rg, vm1);
    const after = {
      os1: await diskOrMissing(rg, os1), os2: await diskOrMissing(rg, os2), data1: await diskOrMissing(rg, data1),
    };
    assert.ok(after.os1.missing && after.os2.missing, `OS disks with deleteOption Delete are gone: ${JSON.stringify(after)}`);
    assert.equal(after.data1.diskState, "Unattached");
    assert.equal(after.data1.managedBy, null);
    const left = (await collect(compute.virtualMachines.list(rg))).map(v => v.name);
    assert.deepEqual(left, []);
    return { deleteAttached, after, vm1Resource: first.id };
  },
};

runCompute(async () => {
  assert.ok(phases[phase], `unknown IRONCLAD_PHASE ${phase}`);
  if (["create", "images"].includes(phase)) assert.ok(certDir, "IRONCLAD_CERT_DIR is required");
  return { phase, ...(await phases[phase]()) };
});
