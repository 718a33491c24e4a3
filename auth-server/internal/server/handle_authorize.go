package server

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/ui"
)

// The authorization endpoint (RFC 6749 §4.1.1, RFC 7636, RFC 9207) and RP-initiated logout.

// authorizeParams are the authorization request's parameters, carried through the login form.
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "nonce", "prompt"}

func authorizeRequest(v url.Values) account.AuthorizeRequest {
	return account.AuthorizeRequest{ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		Scope: v.Get("scope"), State: v.Get("state"), CodeChallenge: v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"), Nonce: v.Get("nonce"), Prompt: v.Get("prompt")}
}

// handleAuthorize is GET /authorize: with a live login session (and no prompt=login) a code
// at once; otherwise the login page, or login_required for prompt=none.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, err := s.accounts.CheckAuthorization(r.Context(), authorizeRequest(q))
	if err != nil {
		s.authorizeFailed(w, r, a, err)
		return
	}
	err = account.ErrUnauthenticated
	var code string
	if a.Prompt != "login" {
		code, err = s.accounts.IssueCodeInSession(r.Context(), a, s.cookies.Session(r))
	}
	switch {
	case err == nil:
		s.redirect(w, r, a, url.Values{"code": {code}})
	case !errors.Is(err, account.ErrUnauthenticated):
		s.pageFailed(w, r, err)
	case a.Prompt == "none":
		s.redirectError(w, r, a, "login_required", "the user is not logged in")
	default:
		s.renderLogin(w, r, http.StatusOK, a, q, "", "")
	}
}

// issueCode answers the authorization request a with a code (302 to its redirect URI).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, a account.Authorization, ls store.LoginSession) {
	code, err := s.accounts.IssueCode(a, ls)
	if err != nil {
		s.pageFailed(w, r, err)
		return
	}
	s.redirect(w, r, a, url.Values{"code": {code}})
}

// authorizeFailed answers a failed authorization request: on a page when its client or
// redirect URI cannot be trusted, else by a redirect with the error (RFC 6749 §4.1.2.1).
func (s *Server) authorizeFailed(w http.ResponseWriter, r *http.Request, a account.Authorization, err error) {
	var ae *account.AuthorizeError
	switch {
	case errors.As(err, &ae) && ae.Redirect:
		s.redirectError(w, r, a, ae.Code, ae.Description)
	case errors.As(err, &ae):
		s.pages.Render(w, http.StatusBadRequest, "error", ui.View{Title: "This sign-in link does not work", Data: ae.Description})
	default:
		s.pageFailed(w, r, err)
	}
}

func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, a account.Authorization, code, desc string) {
	s.redirect(w, r, a, url.Values{"error": {code}, "error_description": {desc}})
}

// redirect sends the browser to a's redirect URI with params, its state and this server's
// issuer (RFC 9207).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, a account.Authorization, params url.Values) {
	u, err := url.Parse(a.RedirectURI)
	if err != nil { // registered URIs are validated; this is a bug
		s.pageFailed(w, r, err)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if a.State != "" {
		q.Set("state", a.State)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// renderLogin shows the login page for a (the zero Authorization: a standalone login), the
// authorization request's parameters carried in the form.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, a account.Authorization, q url.Values, username, problem string) {
	carry, targets := carried(a, q)
	v := ui.LoginView{Username: username, Carry: carry, ClientName: a.Client.Name}
	s.pages.Render(w, status, "login", ui.View{Title: "Log in", CSRF: s.cookies.CSRFToken(w, r), Error: problem, Data: v}, targets...)
}

// carried returns the authorization request's parameters to carry through a login form (none
// for a standalone login) and the origin its redirect URI may be reached at after the form's
// post (for the page's form-action).
func carried(a account.Authorization, q url.Values) (map[string]string, []string) {
	carry := map[string]string{}
	if a.Client.ID == "" {
		return carry, nil
	}
	for _, k := range authorizeParams {
		if val := q.Get(k); val != "" {
			carry[k] = val
		}
	}
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		return carry, nil
	}
	return carry, []string{u.Scheme + "://" + u.Host}
}

// pageFailed shows an error that is not the user's on a page, never as JSON: the API error
// table's text for the account service's outcomes, a generic line for anything else.
func (s *Server) pageFailed(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := pageError(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "err", err)
	}
	s.pages.Render(w, status, "error", ui.View{Title: "Something went wrong", Data: msg})
}

// userError is the status and the text a page shows for err when it is the user's to see;
// otherwise (5xx) it has answered with the error page itself and reports false.
func (s *Server) userError(w http.ResponseWriter, r *http.Request, err error) (int, string, bool) {
	status, msg := pageError(err)
	if status >= 500 {
		s.pageFailed(w, r, err)
		return 0, "", false
	}
	return status, msg, true
}

// pageError is the status and the text a page shows for err, from the one error table.
func pageError(err error) (int, string) {
	if e, ok := errorMapper(false)(err); ok {
		return e.Status, e.Description
	}
	return http.StatusInternalServerError, "The server could not do this just now. Try again in a moment."
}
