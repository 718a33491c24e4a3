// Package verifier verifies the access tokens of the jwtauth auth server offline,
// for any Go service: a Verifier, a net/http Middleware, and the verified Claims
// in the request context.
//
//	v, err := verifier.New(ctx, verifier.Config{
//		Issuer:   "https://auth.example.com",
//		Audience: []string{"resource-server"},
//		JWKSURL:  "https://auth.example.com/.well-known/jwks.json",
//	})
//	...
//	mux.Handle("GET /whoami", v.Middleware(whoami)) // whoami calls verifier.ClaimsFrom(r.Context())
//	syncV := v.WithExpectations("sync+jwt", "user-sync") // for the auth server's user-sync calls
//
// # Tokens
//
// A token is a compact JWS of at most 8 KiB (MaxTokenSize) with header alg, kid
// (none for HS256) and typ ("at+jwt", RFC 9068) and claims iss, sub, aud, exp,
// iat, nbf, jti, sid, client_id, scope, roles, amr, preferred_username, email and
// email_verified (the access token's definition, internal/accesstoken, whose Claims
// this package re-exports). iss, sub, aud, exp, iat and jti are required, and sid
// for at+jwt. exp, nbf and iat are checked with Config.Leeway
// (30s): an iat in the future is rejected like an nbf in the future.
//
// # Order of checks
//
// Verify does the cheap work first so that junk costs little and never causes
// network traffic:
//
//  1. length (at most MaxTokenSize);
//  2. the verified-token cache (an exact-string map lookup; see below);
//  3. the base64url alphabet, strict base64, then an UNTRUSTED decode of header
//     and payload, used only to reject: forbidden
//     headers, alg, typ, required claims, exp/nbf/iat, iss, aud. An expired or
//     foreign token is refused here, before any key lookup or JWKS request;
//  4. the key, from the KeySet: the HS256 secret, or the JWKS key named by kid,
//     whose own alg must equal the header alg; an unknown kid may trigger one JWKS
//     refresh;
//  5. the signature, with go-jose restricted to that one algorithm. The claims
//     are trusted only now, and only because the verified payload is
//     byte-for-byte the payload decoded in step 3;
//  6. with Config.Revocations, whether the token was revoked (after a cache hit
//     too): ErrRevoked.
//
// # Revocations
//
// The auth server announces on its sync channel when a session ends
// (session.revoked) and when a user's earlier tokens are void (user.revoked:
// disabled, deleted, roles changed). RevocationHandler receives those calls
// (authenticated like the resource server's sync route) into a RevocationStore;
// MemoryRevocations is the one for a single process. Register the handler's URL
// in the auth server's SYNC_URLS and pass the store as Config.Revocations:
//
//	revoked := verifier.NewMemoryRevocations(0)
//	v, err := verifier.New(ctx, verifier.Config{..., Revocations: revoked})
//	mux.Handle("POST /sync", v.RevocationHandler(revoked))
//
// # Keys
//
// A Verifier takes its keys from a KeySet, as go-oidc's verifier does: the remote
// JWKS (Config.JWKSURL), a StaticKeySet (NewHS256KeySet for HS256 mode,
// NewJWKSKeySet for a JWKS document at hand, given as Config.KeySet), and
// LegacyHS256, which puts an HS256 set beside another until a time. The algorithms
// are pinned by Config.Algorithms whatever the set.
//
// In asymmetric mode (Config.Algorithms, default ES256; also RS256, EdDSA) keys
// come only from Config.JWKSURL; each JWK is parsed with keyfunc v3 (and its
// jwkset storage). A JWK is used only with a kid, an alg that matches its key
// type (P-256, RSA >= 2048 bits, Ed25519), and use "sig" or no use; a JWK with
// private or symmetric members is refused. Fetching is this package's own,
// because keyfunc's refresh neither honours max-age nor shares one fetch among
// the requests waiting on an unknown kid. New fetches once, and a
// background goroutine, owned by New's context, refetches at the response's
// Cache-Control max-age clamped to [MinRefreshInterval, 1h] (5m without max-age),
// sending If-None-Match when the server gave an ETag, and backing off from
// MinRefreshInterval to 5m after failures. A failed fetch keeps the last good
// set; a successful one replaces the whole set, so removed (revoked) keys stop
// verifying, cached tokens included. A token with an unknown kid triggers at most
// one fetch per MinRefreshInterval (30s), which every request waiting on that kid
// shares; later ones within the interval fail with ErrUnknownKey at once. While
// the JWKS has never been loaded, such tokens fail with ErrKeysUnavailable
// (Ready reports false).
//
// HS256 mode (HS256Secret with Algorithms empty or {"HS256"}) verifies with the
// shared secret and uses no JWKS. With asymmetric Algorithms, HS256Secret plus
// LegacyHS256Until also accepts HS256 tokens until that instant, for moving a
// deployment off HS256 without logging anyone out; cached HS256 tokens stop being
// served at that instant too.
//
// # Verified-token cache
//
// A token that verified is remembered under its exact string, so a repeated
// token costs a map lookup instead of a signature check. An entry is served only
// while its exp (plus leeway) has not passed by Config.Now and while its kid still
// maps to the same key in the current set (or the HS256 window is open); the
// expectations (typ, iss, aud, required claims, times) are checked again on
// every hit. The cache holds at most CacheSize (10000) entries; a full cache
// drops unusable entries, then an arbitrary eighth.
//
// # Threat model (summary)
//
//   - Algorithm confusion: alg "none" in any casing, any alg not configured (HS256
//     signed with the public key's bytes included), and a header alg differing
//     from the key's alg are refused with ErrAlgorithm.
//   - Keys from the token: headers jwk, jku, x5u, x5c and crit are refused; nothing
//     named in a token is ever fetched; the only URL fetched is Config.JWKSURL.
//   - Hostile kid: kid is only a map key, never a path or query; a kid over 256
//     bytes is refused without a lookup.
//   - Denial of service: tokens over 8 KiB and non-base64url bytes are refused
//     before decoding; expired or foreign tokens never reach the key set;
//     unknown-kid refreshes are rate-limited and coalesced; the JWKS body is
//     bounded to 1 MiB; the cache is bounded.
//   - Auth server down: verification is offline; known keys keep verifying.
//   - Token malleability: base64 must be canonical (strict), so one token has one
//     string, which keeps the cache exact.
//   - Revocation: only with Config.Revocations fed by RevocationHandler; a
//     service that cannot receive the auth server's calls accepts a revoked token
//     until it expires. Not covered: TLS to the JWKS, which is the HTTP client's
//     job (use an https JWKSURL in production).
//
// # Errors
//
// Verify's errors wrap the sentinels in errors.go (ErrExpired, ErrSignature, ...);
// test them with errors.Is. Description maps an error to a short fixed text safe
// to send to clients. The Middleware answers 401 for every failure, a missing
// token included, with a JSON body {"error":"invalid_token","error_description":
// ...}; the WWW-Authenticate challenge is a bare "Bearer" for a missing token, as
// RFC 6750 §3.1 asks, and carries error="invalid_token" otherwise.
package verifier
