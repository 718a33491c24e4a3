package server

import (
	"fmt"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"net/http"
	"slices"
	"strings"
)

// handleJWKS serves the published keys with caching headers; If-None-Match gives 304.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	body, etag := s.keys.JWKS()
	h := w.Header()
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.cfg.JWKSMaxAge.Seconds())))
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// handleMetadata serves RFC 8414 authorization server metadata (also at the OpenID path).
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	iss := s.cfg.Issuer
	algs := s.idTokenAlgs()
	authMethods := []string{"none", "client_secret_basic", "client_secret_post"}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	encode(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"token_endpoint":                        iss + "/token",
		"revocation_endpoint":                   iss + "/revoke",
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials", "password"},
		"token_endpoint_auth_methods_supported": authMethods,
		"revocation_endpoint_auth_methods_supported": authMethods,
		"id_token_signing_alg_values_supported":      algs,
		"authorization_endpoint":                     iss + "/authorize",
		"userinfo_endpoint":                          iss + "/userinfo",
		"end_session_endpoint":                       iss + "/logout",
		"response_types_supported":                   []string{"code"},
		"response_modes_supported":                   []string{"query"},
		"code_challenge_methods_supported":           []string{"S256"},
		"subject_types_supported":                    []string{"public"},
		"scopes_supported":                           scopes(algs),
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid",
			"preferred_username", "email", "email_verified"},
		"authorization_response_iss_parameter_supported": true,
	})
	return nil
}

// idTokenAlgs lists the algorithms ID tokens can be signed with now, from the live key set:
// the key ring's lifecycles with a current key (RS256 first). A key set without a ring (HS256
// on PostgreSQL without KEY_ENCRYPTION_KEY) signs no ID tokens: none, and /authorize refuses
// openid there.
func (s *Server) idTokenAlgs() []string {
	if ks, ok := s.keys.(interface{ IDTokenAlgs() []string }); ok {
		return ks.IDTokenAlgs()
	}
	return []string{}
}

// scopes lists the scopes a request may ask for: the built-in client's, without openid when
// no ID token can be signed (algs, idTokenAlgs).
func scopes(algs []string) []string {
	all := clients.Builtin().Scopes
	if len(algs) > 0 {
		return all
	}
	return slices.DeleteFunc(all, func(sc string) bool { return sc == "openid" })
}
