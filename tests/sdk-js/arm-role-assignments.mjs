// @azure/arm-authorization (9.0.0, classic) drives role assignments at subscription, resource
// group and resource scope: create (scope with a leading slash → the `//subscriptions` path the
// SDK really sends), get, listForScope with atScope() and principalId filters, delete; and lists
// role definitions. Env: IRONCLAD_RG (a resource group, created here), IRONCLAD_PRINCIPAL (a principal id).
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ResourceManagementClient } from "@azure/arm-resources";
import { randomUUID } from "node:crypto";
import { cred, ARM, SUB, MANAGEMENT_SCOPE, run } from "./common.mjs";

const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6";

await run(async () => {
  const auth = new AuthorizationManagementClient(cred, SUB, { endpoint: ARM, credentialScopes: [MANAGEMENT_SCOPE] });
  const rg = process.env.IRONCLAD_RG;
  const principalId = process.env.IRONCLAD_PRINCIPAL;
  await new ResourceManagementClient(cred, SUB, { endpoint: ARM }).resourceGroups.createOrUpdate(rg, { location: "eastus" });
  const scopes = {
    subscription: `/subscriptions/${SUB}`,
    group: `/subscriptions/${SUB}/resourceGroups/${rg}`,
    resource: `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/sdkvault`,
  };
  const result = {};
  for (const [kind, scope] of Object.entries(scopes)) {
    const name = randomUUID();
    const role = kind === "resource" ? CRYPTO_SERVICE_ENCRYPTION_USER : READER;
    const created = await auth.roleAssignments.create(scope, name, {
      principalId, principalType: "ServicePrincipal",
      roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
    });
    const got = await auth.roleAssignments.get(scope, name);
    result[kind] = { name, id: created.id, scope: created.scope, roleDefinitionId: got.roleDefinitionId, principalId: got.principalId };
  }
  const names = async (scope, filter) => {
    const out = [];
    for await (const a of auth.roleAssignments.listForScope(scope, filter ? { filter } : {})) out.push(a.name);
    return out;
  };
  result.listAtGroup = await names(scopes.group);
  result.listAtGroupAtScope = await names(scopes.group, "atScope()");
  result.listForPrincipalAtResource = await names(scopes.resource, `principalId eq '${principalId}'`);
  const definitions = [];
  for await (const d of auth.roleDefinitions.list(scopes.subscription)) definitions.push({ name: d.name, roleName: d.roleName });
  result.definitions = definitions;
  const owner = await auth.roleDefinitions.get(scopes.subscription, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
  result.owner = { roleName: owner.roleName, actions: owner.permissions?.[0]?.actions };
  for (const [kind, scope] of Object.entries(scopes)) {
    await auth.roleAssignments.delete(scope, result[kind].name);
  }
  result.listAtGroupAfterDelete = await names(scopes.group, `principalId eq '${principalId}'`);
  return result;
});
