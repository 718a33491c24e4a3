package server

import (
	"net/http"

	"github.com/jwtauth/jwtauth/auth-server/internal/ui"
)

// The hosted pages of CONTRACT §11's mails: /ui/forgot, /ui/reset?token=…, /ui/verify?token=….
// A link only shows a form; the change happens on its POST (mail scanners follow links).

func (s *Server) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	s.pages.Render(w, http.StatusOK, "forgot", ui.View{Title: "Forgot your password?", CSRF: s.cookies.CSRFToken(w, r)})
}

func (s *Server) handleForgotPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
		s.csrfFailed(w)
		return
	}
	if err := s.accounts.ForgotPassword(r.Context(), r.PostForm.Get("email"), clientOf(r)); err != nil {
		status, msg, ok := s.userError(w, r, err)
		if !ok {
			return
		}
		s.pages.Render(w, status, "forgot", ui.View{Title: "Forgot your password?", CSRF: s.cookies.CSRFToken(w, r), Error: msg})
		return
	}
	// The same answer whether or not the address exists (CONTRACT §11).
	s.pages.Render(w, http.StatusAccepted, "message", ui.View{Title: "Check your mail",
		Data: "If the address belongs to an account, a link to choose a new password is on its way. It works once, for a limited time."})
}

func (s *Server) handleResetPage(w http.ResponseWriter, r *http.Request) {
	s.pages.Render(w, http.StatusOK, "reset", ui.View{Title: "Choose a new password", CSRF: s.cookies.CSRFToken(w, r), Data: r.URL.Query().Get("token")})
}

func (s *Server) handleResetPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
		s.csrfFailed(w)
		return
	}
	token := r.PostForm.Get("token")
	if err := s.accounts.ResetPassword(r.Context(), token, r.PostForm.Get("new_password"), clientOf(r)); err != nil {
		status, msg, ok := s.userError(w, r, err)
		if !ok {
			return
		}
		s.pages.Render(w, status, "reset", ui.View{Title: "Choose a new password", CSRF: s.cookies.CSRFToken(w, r), Error: msg, Data: token})
		return
	}
	s.pages.Render(w, http.StatusOK, "message", ui.View{Title: "Password changed",
		Data: "Your password was changed and every session was ended. Log in with the new password."})
}

func (s *Server) handleVerifyPage(w http.ResponseWriter, r *http.Request) {
	s.pages.Render(w, http.StatusOK, "verify", ui.View{Title: "Confirm your email address", CSRF: s.cookies.CSRFToken(w, r), Data: r.URL.Query().Get("token")})
}

func (s *Server) handleVerifyPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
		s.csrfFailed(w)
		return
	}
	if _, err := s.accounts.VerifyEmail(r.Context(), r.PostForm.Get("token"), clientOf(r)); err != nil {
		status, msg, ok := s.userError(w, r, err)
		if !ok {
			return
		}
		s.pages.Render(w, status, "error", ui.View{Title: "This link does not work", Data: msg})
		return
	}
	s.pages.Render(w, http.StatusOK, "message", ui.View{Title: "Address confirmed", Data: "Thank you: your email address is confirmed."})
}
