// Shared by every SDK script: reads the running server's endpoints.json (path in IRONCLAD_ENDPOINTS)
// and builds the credential the way api-compat.md §3 requires (authorityHost + disableInstanceDiscovery).
// The test harness sets NODE_EXTRA_CA_CERTS to the server's local CA, so TLS is verified for real.
// Scripts print one JSON document on stdout (see `emit`); the C# side parses it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ClientSecretCredential } from "@azure/identity";

const endpointsPath = process.env.IRONCLAD_ENDPOINTS;
if (!endpointsPath) {
  throw new Error("IRONCLAD_ENDPOINTS (path of the server's endpoints.json) is not set");
}

export const endpoints = JSON.parse(readFileSync(endpointsPath, "utf8"));
/** The HTTPS base URL of the control plane (ARM and the identity provider). */
export const ARM = endpoints.url;
export const AUTHORITY = endpoints.authorityHost;
export const SUB = endpoints.subscriptionId;
export const TENANT = endpoints.tenantId;
/** The management scope: pass it explicitly to arm-keyvault / arm-authorization (api-compat.md §2.7). */
export const MANAGEMENT_SCOPE = "https://management.azure.com/.default";

/** A ClientSecretCredential for the given client (default: the bootstrap administrator). */
export function credential(clientId = endpoints.clientId, clientSecret = endpoints.clientSecret, tenantId = TENANT) {
  return new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost: AUTHORITY,
    disableInstanceDiscovery: true,
  });
}

/** The bootstrap administrator's credential (Owner on SUB). */
export const cred = credential();

/** Prints the script's result as one JSON line: the harness parses the last line of stdout. */
export function emit(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

/** Runs main, emitting {error:{name,message,code,statusCode}} and exiting 1 on failure. */
export async function run(main) {
  try {
    emit(await main());
  } catch (e) {
    emit({ error: { name: e?.name, message: String(e?.message ?? e), code: e?.code, statusCode: e?.statusCode } });
    process.exitCode = 1;
  }
}

/** Awaits a promise that must fail with the status (and code); returns {statusCode, code, message}. */
export async function expectError(promise, statusCode, code) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.statusCode, statusCode, `status of ${e.code}: ${e.message}`);
    if (code) assert.equal(e.code, code, e.message);
    return { statusCode: e.statusCode, code: e.code, message: e.message };
  }
  assert.fail(`expected ${statusCode} ${code ?? ""}`);
}

export async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}
