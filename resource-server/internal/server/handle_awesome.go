package server

import (
	"cmp"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// awesomeMsg is the Python system's answer, kept byte for byte for its clients.
const awesomeMsg = "You accessed!!!"

// awesomeRequest is the Python system's request body: the token in the body, and a msg that
// it never used.
type awesomeRequest struct {
	AccessToken string `json:"access_token"`
	Msg         string `json:"msg"`
}

// handleAwesomeApp is the seed's endpoint: a Bearer token, or the seed's JSON body
// {access_token, msg} → {"accessed_user": <username>, "msg": "You accessed!!!"}. It reads the
// user's row in the app database (creating it from the claims before the first sync, as /me).
func (s *Server) handleAwesomeApp(w http.ResponseWriter, r *http.Request) error {
	token, err := awesomeToken(r)
	if err != nil {
		return err
	}
	c, err := s.verifier.Verify(r.Context(), token)
	if err != nil {
		return errUnauthorized(err)
	}
	u, err := s.store.EnsureUser(r.Context(), identity(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appendAwesome(make([]byte, 0, 96), cmp.Or(u.Username, c.PreferredUsername, c.Subject)))
	return nil
}

// appendAwesome appends the answer {"accessed_user": user, "msg": awesomeMsg} as
// encoding/json encodes that map (keys sorted), and a newline.
func appendAwesome(b []byte, user string) []byte {
	b = appendString(append(b, `{"accessed_user":`...), user)
	return append(b, `,"msg":"`+awesomeMsg+`"}`+"\n"...)
}

// awesomeToken takes the token from `Authorization: Bearer`, else from the JSON body. No
// token at all is ErrMissingToken (401 with a bare Bearer challenge).
func awesomeToken(r *http.Request) (string, error) {
	if tok, ok := verifier.BearerToken(r); ok {
		return tok, nil
	}
	// The seed's clients sent JSON; a body without a content type is read as JSON too.
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return "", httpapi.ErrUnsupportedMedia
		}
	}
	var req awesomeRequest
	err := httpapi.DecodeJSONBody(r, &req)
	if errors.Is(err, io.EOF) || (err == nil && req.AccessToken == "") {
		return "", errUnauthorized(verifier.ErrMissingToken)
	}
	if err != nil {
		return "", err
	}
	return req.AccessToken, nil
}
