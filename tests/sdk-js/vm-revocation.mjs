// Revocation of a running VM's key through @azure/keyvault-keys, in phases the C# test interleaves with
// a qemu-io write loop on the VM's data disk (IRONCLAD_PHASE):
//   setup    the seed's vault/key/set/grant and a running VM (marketplace image, CMK OS + Empty CMK data disk);
//            NBD credentials written to IRONCLAD_CERT_DIR
//   disable  updateKeyProperties enabled:false → the VM goes to PowerState/stopped with a KeyAccess status
//            naming the key (time from the vault call measured); beginStartAndWait is refused naming the key
//   enable   enabled:true → beginStartAndWait works (retried briefly), running again with its exports
//   policy   the set identity's access policy removed (@azure/arm-keyvault) → stopped again, start refused
//            naming the key and the identity; the policy added back → starts
// Env: IRONCLAD_RG, IRONCLAD_PREFIX, IRONCLAD_PHASE, IRONCLAD_CERT_DIR, IRONCLAD_SEED. Prints one JSON summary.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { compute, grantPolicy, keyClient, kvm, outcome, removePolicy, runCompute } from "./compute-common.mjs";
import { MINIMAL_IMAGE, instanceView, issueNbdCredentials, seedKeySetup, vmBody, vmPath, waitForPower } from "./vm-common.mjs";

const rg = process.env.IRONCLAD_RG || "rg-vmrev";
const prefix = process.env.IRONCLAD_PREFIX || "vmrev";
const phase = process.env.IRONCLAD_PHASE || "setup";
const certDir = process.env.IRONCLAD_CERT_DIR;
const vm = `${prefix}-vm`;

async function theKey() {
  const vault = await kvm.vaults.get(rg, `${prefix}-kv`);
  const keys = keyClient(vault.properties.vaultUri);
  return { keys, key: await keys.getKey(`${prefix}-key`) };
}

const phases = {
  async setup() {
    const { key, set } = await seedKeySetup(rg, prefix);
    const created = await compute.virtualMachines.beginCreateOrUpdateAndWait(rg, vm, vmBody({
      image: MINIMAL_IMAGE, set, computerName: vm,
      dataDisks: [{ lun: 0, createOption: "Empty", diskSizeGB: 1, managedDisk: { storageAccountType: "Premium_LRS", diskEncryptionSet: { id: set.id } } }],
    }));
    const view = await instanceView(rg, vm);
    assert.equal(view.power, "PowerState/running");
    const credentials = await issueNbdCredentials(vmPath(rg, vm), certDir);
    return { vmId: created.vmId, keyId: key.id, keyName: key.name, view, credentials };
  },

  async disable() {
    const { keys, key } = await theKey();
    const started = performance.now();
    await keys.updateKeyProperties(key.name, key.properties.version, { enabled: false });
    const answeredMs = performance.now() - started;
    const stopped = await waitForPower(rg, vm, "PowerState/stopped", { intervalMs: 20 });
    const stoppedMs = performance.now() - started;
    const keyStatus = stopped.view.statuses.find(s => s.code?.startsWith("KeyAccess/")) ?? null;
    const start = await outcome(compute.virtualMachines.beginStartAndWait(rg, vm));
    const afterRefusal = await instanceView(rg, vm);
    return {
      keyName: key.name, keyId: key.id, vaultCallMs: Math.round(answeredMs), stoppedFromCallMs: Math.round(stoppedMs),
      view: stopped.view, keyStatus, start, afterRefusal,
    };
  },

  async enable() {
    const { keys, key } = await theKey();
    await keys.updateKeyProperties(key.name, key.properties.version, { enabled: true });
    const { attempts, afterMs } = await startWhenAllowed();
    const view = await instanceView(rg, vm);
    assert.equal(view.power, "PowerState/running");
    assert.ok(!view.statuses.some(s => s.code?.startsWith("KeyAccess/")), `no KeyAccess status once running: ${JSON.stringify(view.statuses)}`);
    return { attempts, startedAfterMs: afterMs, view };
  },

  async policy() {
    const vault = await kvm.vaults.get(rg, `${prefix}-kv`);
    const set = await compute.diskEncryptionSets.get(rg, `${prefix}-des`);
    const { key } = await theKey();
    const started = performance.now();
    await removePolicy(vault, set.identity.principalId);
    const stopped = await waitForPower(rg, vm, "PowerState/stopped", { intervalMs: 20 });
    const stoppedFromCallMs = Math.round(performance.now() - started);
    const keyStatus = stopped.view.statuses.find(s => s.code?.startsWith("KeyAccess/")) ?? null;
    const start = await outcome(compute.virtualMachines.beginStartAndWait(rg, vm));
    await grantPolicy(vault, set.identity.principalId);
    const back = await startWhenAllowed();
    const view = await instanceView(rg, vm);
    assert.equal(view.power, "PowerState/running");
    return { keyName: key.name, principalId: set.identity.principalId, stoppedFromCallMs, keyStatus, start, restarted: back, view };
  },
};

/** Retries beginStartAndWait for up to 15 s (the vault's change reaches the server within about a second). */
async function startWhenAllowed() {
  const started = performance.now();
  let attempts = 0;
  let last;
  while (performance.now() - started < 15_000) {
    attempts++;
    last = await outcome(compute.virtualMachines.beginStartAndWait(rg, vm));
    if (last.succeeded) return { attempts, afterMs: Math.round(performance.now() - started) };
    await new Promise(r => setTimeout(r, 200));
  }
  assert.fail(`start still refused 15 s after access returned: ${JSON.stringify(last)}`);
}

runCompute(async () => {
  assert.ok(phases[phase], `unknown IRONCLAD_PHASE ${phase}`);
  if (phase === "setup") assert.ok(certDir, "IRONCLAD_CERT_DIR is required");
  return { phase, ...(await phases[phase]()) };
});
