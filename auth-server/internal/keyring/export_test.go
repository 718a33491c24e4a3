package keyring

import (
	"time"

	"github.com/jwtauth/jwtauth/keys"
)

// SetGenerate replaces how r makes key material, for tests.
func SetGenerate(r *Ring, gen func(alg string, now time.Time, s *keys.Sealer) (keys.Key, error)) {
	r.generate = gen
}
