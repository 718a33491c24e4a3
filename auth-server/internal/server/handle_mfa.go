package server

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
)

// The second factor's endpoints (CONTRACT §13); the decisions are account.Service's.

type totpEnrolmentJSON struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      string `json:"qr_png"` // data:image/png;base64,…
}

// handleEnrolTOTP is POST /mfa/totp (Bearer) → 201 {secret, otpauth_uri, qr_png}: a pending
// secret that counts once confirmed.
func (s *Server) handleEnrolTOTP(w http.ResponseWriter, r *http.Request) error {
	e, err := s.accounts.EnrolTOTP(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	noStore(w)
	encode(w, http.StatusCreated, totpEnrolmentJSON{Secret: e.Secret, OTPAuthURI: e.URI, QRPNG: e.QRDataURI})
	return nil
}

type mfaCodeRequest struct {
	Code     *string `json:"code"`
	Password *string `json:"password"`
}

// handleConfirmTOTP is POST /mfa/totp/confirm {code} (Bearer) → 200 {recovery_codes}, shown
// this once.
func (s *Server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request) error {
	var req mfaCodeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Code == nil || *req.Code == "" {
		return errBadRequest("invalid_request", "code is required")
	}
	codes, err := s.accounts.ConfirmTOTP(r.Context(), principal(r.Context()), *req.Code, clientOf(r))
	if err != nil {
		return err
	}
	noStore(w)
	encode(w, http.StatusOK, struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}{codes})
	return nil
}

// handleRemoveTOTP is DELETE /mfa/totp {code} or {password} (Bearer) → 204.
func (s *Server) handleRemoveTOTP(w http.ResponseWriter, r *http.Request) error {
	var req mfaCodeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in := account.RemoveTOTPInput{}
	if req.Code != nil {
		in.Code = *req.Code
	}
	if req.Password != nil {
		in.Password = *req.Password
	}
	if err := s.accounts.RemoveTOTP(r.Context(), principal(r.Context()), in, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleMFAStatus is GET /mfa/totp (Bearer) → {enabled, pending, recovery_codes_left}.
func (s *Server) handleMFAStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.accounts.MFAStatus(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, struct {
		Enabled           bool `json:"enabled"`
		Pending           bool `json:"pending"`
		RecoveryCodesLeft int  `json:"recovery_codes_left"`
	}{st.Enabled, st.Pending, st.RecoveryCodesLeft})
	return nil
}

// handleLoginMFA is POST /login/mfa, form or JSON {mfa_token, code} (and the client's
// credentials when the password step had them) → token response.
func (s *Server) handleLoginMFA(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	tok, code := p.Get("mfa_token"), p.Get("code")
	if tok == "" || code == "" {
		return errBadRequest("invalid_request", "mfa_token and code are required")
	}
	a, err := clientAuth(r, p)
	if err != nil {
		return err
	}
	t, err := s.accounts.LoginMFA(r.Context(), account.LoginMFAInput{Token: tok, Code: code, Client: a}, clientOf(r))
	if err != nil {
		return err
	}
	writeTokens(w, http.StatusOK, toTokenResponse(t))
	return nil
}

// writeMFARequired answers a password step that needs its second factor: 403
// {"error":"mfa_required","error_description","mfa_token","expires_in"}, never cached. It
// reports false, writing nothing, for any other error.
func writeMFARequired(w http.ResponseWriter, err error) bool {
	var mr *account.MFARequiredError
	if !errors.As(err, &mr) {
		return false
	}
	writeTokens(w, http.StatusForbidden, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		MFAToken    string `json:"mfa_token"`
		ExpiresIn   int    `json:"expires_in"`
	}{"mfa_required", "a second factor is required: POST /login/mfa with the mfa_token and a code", mr.Token, int(mr.ExpiresIn.Seconds())})
	return true
}

// handleAdminResetMFA is DELETE /admin/users/{id}/mfa → 204: the user's TOTP and recovery
// codes removed (audited with the admin as actor).
func (s *Server) handleAdminResetMFA(w http.ResponseWriter, r *http.Request) error {
	if err := s.accounts.ResetMFA(r.Context(), actor(r), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
