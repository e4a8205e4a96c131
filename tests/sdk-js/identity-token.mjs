// @azure/identity ClientSecretCredential obtains a token from the Ironclad identity provider.
// Env: IRONCLAD_SCOPE (default the management scope); optional IRONCLAD_CLIENT_ID / IRONCLAD_CLIENT_SECRET
// to authenticate as another client. Prints {token, expiresOnTimestamp}.
import { credential, run, MANAGEMENT_SCOPE } from "./common.mjs";

await run(async () => {
  const cred = process.env.IRONCLAD_CLIENT_ID
    ? credential(process.env.IRONCLAD_CLIENT_ID, process.env.IRONCLAD_CLIENT_SECRET)
    : credential();
  const token = await cred.getToken(process.env.IRONCLAD_SCOPE || MANAGEMENT_SCOPE);
  return { token: token.token, expiresOnTimestamp: token.expiresOnTimestamp, tokenType: token.tokenType };
});
