// Verifies access tokens (one per line on stdin) against a JWKS URL with the jose library,
// as a third-party Node service would: the JWK Set is cached and refetched for an unknown kid
// (cooldownDuration 0, so that a test need not wait jose's default 30 s between fetches).
// Checks alg, signature, iss, aud, exp, iat and typ "at+jwt". Prints one line per token:
// "ok <kid> <sub>" or "fail <reason>". Usage: node verify.mjs JWKS_URL ISSUER AUDIENCE ALG[,ALG]
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createInterface } from 'node:readline';

const [jwksURL, issuer, audience, algs] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksURL), { cooldownDuration: 0 });
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const token = line.trim();
  if (!token) continue;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer, audience, algorithms: algs.split(','), typ: 'at+jwt', requiredClaims: ['exp', 'iat', 'sub', 'jti'],
    });
    console.log(`ok ${protectedHeader.kid} ${payload.sub}`);
  } catch (e) {
    console.log(`fail ${e.code || e.name}`);
  }
}
