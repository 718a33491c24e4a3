package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token,omitempty"`
}

func toTokenResponse(t account.Tokens) tokenResponse {
	return tokenResponse{AccessToken: t.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(t.ExpiresIn.Round(1e9).Seconds()), RefreshToken: t.RefreshToken, Scope: strings.Join(t.Scope, " "), IDToken: t.IDToken}
}

// writeTokens answers a token response, never cached (RFC 6749 §5.1).
func writeTokens(w http.ResponseWriter, status int, v any) {
	noStore(w)
	encode(w, status, v)
}

// handleLogin is the Python system's POST /login: form or JSON {username, password}; the
// username may be the email. Its errors keep the JSON endpoints' statuses (401 for bad
// credentials).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	if gt := p.Get("grant_type"); gt != "" && gt != "password" {
		return errBadRequest("unsupported_grant_type", "grant_type must be password")
	}
	return s.passwordGrant(w, r, p)
}

// handleToken is the RFC 6749 token endpoint: password, refresh_token and
// client_credentials grants. It is registered with the token endpoint's error statuses (RFC
// 6749 §5.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	switch p.Get("grant_type") {
	case "password":
		return s.passwordGrant(w, r, p)
	case "refresh_token":
		a, err := clientAuth(r, p)
		if err != nil {
			return err
		}
		return s.refreshGrant(w, r, account.RefreshInput{Token: p.Get("refresh_token"), Client: a, Scope: p.Get("scope")})
	case "client_credentials":
		a, err := clientAuth(r, p)
		if err != nil {
			return err
		}
		t, err := s.accounts.ClientCredentials(r.Context(), a, p.Get("scope"))
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, toTokenResponse(t))
		return nil
	case "authorization_code":
		a, err := clientAuth(r, p)
		if err != nil {
			return err
		}
		if p.Get("code") == "" || p.Get("redirect_uri") == "" || p.Get("code_verifier") == "" {
			return errBadRequest("invalid_request", "code, redirect_uri and code_verifier are required")
		}
		t, err := s.accounts.ExchangeCode(r.Context(), account.CodeInput{Client: a, Code: p.Get("code"),
			RedirectURI: p.Get("redirect_uri"), CodeVerifier: p.Get("code_verifier")}, clientOf(r))
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, toTokenResponse(t))
		return nil
	case "":
		return errBadRequest("invalid_request", "grant_type is required")
	default:
		return errBadRequest("unsupported_grant_type", "grant_type must be password, refresh_token, authorization_code or client_credentials")
	}
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, p url.Values) error {
	login, pw := p.Get("username"), p.Get("password")
	if strings.TrimSpace(login) == "" || pw == "" {
		return errBadRequest("invalid_request", "username and password are required")
	}
	a, err := clientAuth(r, p)
	if err != nil {
		return err
	}
	in := account.LoginInput{Login: login, Password: pw, Client: a, Scope: p.Get("scope")}
	t, err := s.accounts.Login(r.Context(), in, clientOf(r))
	if writeMFARequired(w, err) {
		return nil
	}
	if err != nil {
		return err
	}
	writeTokens(w, http.StatusOK, toTokenResponse(t))
	return nil
}

// clientAuth reads the client's credentials: HTTP Basic (client_secret_basic, both parts
// form-encoded, RFC 6749 §2.3.1) or client_id and client_secret parameters
// (client_secret_post, or a public client's client_id alone). Both at once is invalid_request.
func clientAuth(r *http.Request, p url.Values) (account.ClientAuth, error) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		return account.ClientAuth{ID: p.Get("client_id"), Secret: p.Get("client_secret")}, nil
	}
	if p.Get("client_secret") != "" {
		return account.ClientAuth{}, errBadRequest("invalid_request", "use one client authentication method, not Basic and client_secret both")
	}
	uid, err1 := url.QueryUnescape(id)
	usecret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil || (p.Get("client_id") != "" && p.Get("client_id") != uid) {
		return account.ClientAuth{}, errBadClient
	}
	return account.ClientAuth{ID: uid, Secret: usecret}, nil
}

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

// handleRefresh is POST /refresh: JSON {refresh_token} → token response.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.RefreshToken == nil {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	return s.refreshGrant(w, r, account.RefreshInput{Token: *req.RefreshToken})
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, in account.RefreshInput) error {
	if in.Token == "" {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	t, err := s.accounts.Refresh(r.Context(), in, clientOf(r))
	if err != nil {
		return err
	}
	writeTokens(w, http.StatusOK, toTokenResponse(t))
	return nil
}

// handleLogout is POST /logout, JSON (or form) {refresh_token, all}: 204, also for an
// unknown, expired or already revoked token (account.Service.Logout says which sessions end).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	tok := p.Get("refresh_token")
	if tok == "" {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	all := false
	if v := p.Get("all"); v != "" {
		if all, err = strconv.ParseBool(v); err != nil {
			return errBadRequest("invalid_request", "all must be a boolean")
		}
	}
	if err := s.accounts.Logout(r.Context(), tok, all, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRevoke is RFC 7009 token revocation: form (or JSON) {token, token_type_hint} → 200,
// also for unknown or invalid tokens. The hint is not needed: the token tells its kind.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	tok := p.Get("token")
	if tok == "" {
		return errBadRequest("invalid_request", "token is required")
	}
	a, err := clientAuth(r, p)
	if err != nil {
		return err
	}
	if err := s.accounts.Revoke(r.Context(), tok, a, clientOf(r)); err != nil {
		return err
	}
	noStore(w)
	w.WriteHeader(http.StatusOK)
	return nil
}

// clientOf is the calling client's identity as the account service records it.
func clientOf(r *http.Request) account.Client {
	return account.Client{IP: clientIP(r), UserAgent: userAgent(r)}
}
