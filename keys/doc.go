// Package keys decides the lifecycle of the auth server's signing keys and
// handles their key material.
//
// The lifecycle is a set of pure functions of (keys, now, policy): they take
// the stored rows and return the rows to store, with no I/O, so a store can run
// them inside a compare-and-swap transaction and every replica reaches the same
// answer. The key material half generates keys, seals private keys at rest with
// AES-256-GCM under the key-encryption key, and renders the JWKS.
//
// # Timeline
//
// Each key passes through these states; times are fields of [Key]:
//
//	CreatedAt             published in the JWKS as "next"; does not sign yet
//	  ≥ PublishAhead
//	ActivatedAt           becomes "current": the one key that signs
//	  (about RotateEvery)
//	RetiredAt             "retired": still published, signs no more
//	  AccessTTL + PublishAhead
//	RemoveAt              gone from the JWKS; pruned from the table
//
// A verifier caches the JWKS for up to JWKSMaxAge. Because PublishAhead is at
// least JWKSMaxAge, every verifier has a key before the first token it signs
// arrives, and a retired key stays published until every token it signed has
// expired and every cached JWKS that lacks it would have been refreshed anyway.
//
// [Rotate] moves next to current, current to retired, and publishes a fresh
// next key. It refuses with a [*TooEarlyError] while the next key has been
// published for less than PublishAhead; force overrides that in an emergency,
// at the price of tokens that some verifiers cannot check until their cached
// JWKS expires. [Revoke] removes a compromised key from the JWKS at once; if
// it was current, the next key starts signing immediately. Revoked keys stay in
// the table for [KeepRevoked] so that operators can still list them.
//
// # Several algorithms
//
// A key set holds one such lifecycle per algorithm (the access-token algorithm's, and RS256's
// for ID tokens). The single-lifecycle functions take one algorithm's keys; [ForAlg],
// [ReplaceAlg], [RotateAlgs], [RevokeKey] and [CheckSet] split a mixed set by algorithm and put
// it back together. [Published] and [Prune] take a mixed set as it is.
package keys
