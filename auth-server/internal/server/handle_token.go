package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func toTokenResponse(t account.Tokens) tokenResponse {
	return tokenResponse{AccessToken: t.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(t.ExpiresIn.Round(1e9).Seconds()), RefreshToken: t.RefreshToken}
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
	return s.passwordGrant(w, r, p.Get("username"), p.Get("password"))
}

// handleToken is the RFC 6749 token endpoint: password and refresh_token grants. It is
// registered with the token endpoint's error statuses (RFC 6749 §5.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	switch p.Get("grant_type") {
	case "password":
		return s.passwordGrant(w, r, p.Get("username"), p.Get("password"))
	case "refresh_token":
		return s.refreshGrant(w, r, p.Get("refresh_token"))
	case "":
		return errBadRequest("invalid_request", "grant_type is required")
	default:
		return errBadRequest("unsupported_grant_type", "grant_type must be password or refresh_token")
	}
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, login, pw string) error {
	if strings.TrimSpace(login) == "" || pw == "" {
		return errBadRequest("invalid_request", "username and password are required")
	}
	t, err := s.accounts.Login(r.Context(), account.LoginInput{Login: login, Password: pw}, clientOf(r))
	if err != nil {
		return err
	}
	writeTokens(w, http.StatusOK, toTokenResponse(t))
	return nil
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
	return s.refreshGrant(w, r, *req.RefreshToken)
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, token string) error {
	if token == "" {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	t, err := s.accounts.Refresh(r.Context(), token, clientOf(r))
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
	if err := s.accounts.Revoke(r.Context(), tok, clientOf(r)); err != nil {
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
