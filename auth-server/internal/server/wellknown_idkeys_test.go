package server_test

import (
	"slices"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// id_token_signing_alg_values_supported comes from the live key set: RS256 (the ID-token
// lifecycle the ring keeps beside ES256) first, then ES256, in both metadata documents; the
// JWKS publishes both lifecycles' keys.
func TestMetadataIDTokenAlgsFromKeySet(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	e := newEnv(t, d)
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		r := e.do("GET", p, nil)
		raw, _ := r.Body["id_token_signing_alg_values_supported"].([]any)
		var got []string
		for _, a := range raw {
			s, _ := a.(string)
			got = append(got, s)
		}
		if !slices.Equal(got, []string{"RS256", "ES256"}) {
			t.Errorf("%s: id_token_signing_alg_values_supported = %v, want [RS256 ES256]", p, got)
		}
	}
	jwks := e.do("GET", "/.well-known/jwks.json", nil)
	algs := map[string]int{}
	for _, k := range jwks.Body["keys"].([]any) {
		algs[k.(map[string]any)["alg"].(string)]++
	}
	if algs["ES256"] != 2 || algs["RS256"] != 2 {
		t.Errorf("JWKS algorithms %v, want 2 ES256 and 2 RS256", algs)
	}
}
