package verifier

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// SyncEvent is one event of the auth server's user-sync calls: a user change (user.upsert,
// user.delete) or a revocation (session.revoked, user.revoked; RevocationOf).
type SyncEvent = syncevent.Event

// SyncBatch is the body of a user-sync call: {"events": [...]}.
type SyncBatch = syncevent.Batch

// maxSyncBody bounds a sync call's body (the auth server sends at most 100 events a call).
const maxSyncBody = 1 << 20

// RevocationHandler returns the http.Handler that receives the auth server's user-sync calls
// for a service that only needs revocations: register its URL in the auth server's SYNC_URLS.
// It authenticates each call as the resource server does (a Bearer sync token, typ sync+jwt
// and aud user-sync, signed by the keys and issuer v trusts, covering exactly this body),
// records the batch's revocations in store, and answers 200 {"applied": n, "ignored": m}; user
// changes and unknown event types are acknowledged and ignored. A bad token is 401, a
// malformed body 400, and a failing store 503, which the auth server retries.
func (v *Verifier) RevocationHandler(store RevocationStore) http.Handler {
	sync := v.WithExpectations(syncevent.TokenType, syncevent.Audience)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		token, ok := BearerToken(r)
		if !ok {
			writeUnauthorized(w, ErrMissingToken)
			return
		}
		if _, err := sync.Verify(r.Context(), token); err != nil {
			writeUnauthorized(w, err)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSyncBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", "the body is too large")
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
			return
		}
		if !SyncBodyMatches(token, body) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the sync token does not match the request body"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "the sync token does not match the request body")
			return
		}
		var batch SyncBatch
		if err := json.Unmarshal(body, &batch); err != nil || batch.Events == nil {
			writeError(w, http.StatusBadRequest, "invalid_request", `the body must be {"events": [...]}`)
			return
		}
		var revs []Revocation
		for _, e := range batch.Events {
			rev, ok, err := RevocationOf(e)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
				return
			}
			if ok {
				revs = append(revs, rev)
			}
		}
		if len(revs) > 0 {
			if err := store.Revoke(r.Context(), revs); err != nil {
				v.log.ErrorContext(r.Context(), "revocations not recorded", "error", err)
				writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the revocations could not be recorded; the auth server retries")
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Applied int `json:"applied"`
			Ignored int `json:"ignored"`
		}{len(revs), len(batch.Events) - len(revs)})
	})
}

// SyncBodyMatches reports whether a verified sync token's body_sha256 claim is the hash of
// body: a sync token authenticates one body only, so a target that received a call cannot
// replay its token to another target with events of its own.
func SyncBodyMatches(token string, body []byte) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		BodyHash string `json:"body_sha256"`
	}
	return json.Unmarshal(payload, &c) == nil && c.BodyHash != "" && c.BodyHash == syncevent.BodyHash(body)
}
