// Validates access tokens (one per line on stdin) as RFC 9068 JWT access tokens with
// oauth4webapi's validateJwtAccessToken, as a strict third-party resource server would: the
// authorization server's metadata is discovered from ISSUER, its JWKS fetched from the
// metadata's jwks_uri, and the token checked for typ at+jwt, the signature, iss, aud, exp,
// iat, sub, jti and client_id. Prints one line per token: "ok <client_id> <sub> <scope>" or
// "fail <reason>". Usage: node rfc9068.mjs ISSUER AUDIENCE ALG[,ALG]
import * as oauth from 'oauth4webapi';
import { createInterface } from 'node:readline';

const [issuer, audience, algs] = process.argv.slice(2);
const insecure = { [oauth.allowInsecureRequests]: true }; // the test servers speak plain HTTP on 127.0.0.1
const issuerURL = new URL(issuer);
const as = await oauth.processDiscoveryResponse(
  issuerURL, await oauth.discoveryRequest(issuerURL, { algorithm: 'oauth2', ...insecure }));
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const token = line.trim();
  if (!token) continue;
  try {
    const request = new Request('http://resource.invalid/', { headers: { authorization: `Bearer ${token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, audience, { ...insecure, signingAlgorithms: algs.split(',') });
    console.log(`ok ${claims.client_id} ${claims.sub} ${claims.scope ?? ''}`);
  } catch (e) {
    console.log(`fail ${e.code || e.name} ${e.message}`);
  }
}
