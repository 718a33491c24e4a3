// The relying party's half of the authorization code flow with openid-client (v6), for the
// e2e test TestCodeFlowWithOpenIDClient: discovery, then the callback URL the test's browser
// landed on is redeemed with PKCE, the ID token checked (nonce, issuer, audience), and
// UserInfo fetched. Prints one JSON line {sub, email, preferred_username, id_token_sub}.
//
//   node codeflow.mjs ISSUER CLIENT_ID CALLBACK_URL CODE_VERIFIER STATE NONCE
import * as client from 'openid-client';

const [issuer, clientId, callback, verifier, state, nonce] = process.argv.slice(2);
try {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(),
    { execute: [client.allowInsecureRequests] }); // the test's issuer is http://127.0.0.1
  const tokens = await client.authorizationCodeGrant(config, new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims();
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  console.log(JSON.stringify({ sub: info.sub, email: info.email, preferred_username: info.preferred_username, id_token_sub: claims.sub }));
} catch (e) {
  console.error(`openid-client: ${e.name}: ${e.message}${e.cause ? ' (' + JSON.stringify(e.cause) + ')' : ''}`);
  process.exit(1);
}
