// Package password hashes and verifies user passwords.
//
// New hashes are argon2id (golang.org/x/crypto/argon2), stored as a PHC
// string in the reference implementation's format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in standard base64 without padding. The defaults
// (19 MiB, 2 passes, 1 lane, 16-byte salt, 32-byte key) are OWASP's
// recommended minimum for argon2id; ARGON2_PARAMS overrides m, t and p
// through [ParseParams].
//
// Hashes imported from the Python system are bcrypt ($2b$, also $2a$ and
// $2y$) made by passlib at cost 12. bcrypt only ever reads the first 72
// bytes of a password and passlib truncated longer ones silently, so a
// password is checked on its first 72 bytes (cut as bytes, not characters),
// exactly as the old system did. Every bcrypt hash reports needsRehash, so
// the caller replaces it with argon2id after the first successful login.
//
// All hashing goes through a bounded queue: at most `workers` hashes run at
// once (the CPU count by default), the rest wait in line and give up when
// their context ends. 500 concurrent logins therefore hold at most `workers`
// argon2 buffers (19 MiB each by default), not 500.
//
// Once no hash has run for [ReleaseAfter], the Hasher hands the heap's free
// memory back to the OS, so that the buffers of a burst do not stay resident.
//
// [Hasher.VerifyDummy] does the work of a real verification against a hash
// with the Hasher's parameters, so an unknown user costs the same time as a
// wrong password.
package password
