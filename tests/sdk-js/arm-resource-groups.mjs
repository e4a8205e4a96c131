// @azure/arm-resources (8.0.0, modular) drives resource groups against the Ironclad server:
// create (201 path), get with another casing, list with small pages ($top → nextLink followed by
// the SDK), update tags, checkExistence, delete (synchronous 200), then get → ResourceGroupNotFound.
// Env: IRONCLAD_PREFIX (group name prefix, default "sdkrg"), IRONCLAD_COUNT (groups, at least 3, default 5).
import { ResourceManagementClient } from "@azure/arm-resources";
import { cred, ARM, SUB, run } from "./common.mjs";

await run(async () => {
  const rm = new ResourceManagementClient(cred, SUB, { endpoint: ARM });
  const prefix = process.env.IRONCLAD_PREFIX || "sdkrg";
  const count = Math.max(3, Number(process.env.IRONCLAD_COUNT || "5"));
  const names = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${i}`;
    await rm.resourceGroups.createOrUpdate(name, { location: "eastus", tags: { index: String(i) } });
    names.push(name);
  }
  const got = await rm.resourceGroups.get(names[0].toUpperCase());
  let pages = 0;
  const listed = [];
  for await (const page of rm.resourceGroups.list({ top: 2 }).byPage()) {
    pages++;
    for (const group of page) listed.push(group.name);
  }
  const updated = await rm.resourceGroups.update(names[1], { tags: { patched: "yes" } });
  const exists = (await rm.resourceGroups.checkExistence(names[2])).body;
  await rm.resourceGroups.delete(names[2]);
  const existsAfter = (await rm.resourceGroups.checkExistence(names[2])).body;
  let afterDelete = null;
  try {
    await rm.resourceGroups.get(names[2]);
  } catch (e) {
    afterDelete = { code: e.code, statusCode: e.statusCode };
  }
  return {
    got: { id: got.id, name: got.name, type: got.type, location: got.location, tags: got.tags, provisioningState: got.properties?.provisioningState },
    listed,
    pages,
    updatedTags: updated.tags,
    exists,
    existsAfter,
    afterDelete,
  };
});
