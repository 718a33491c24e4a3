package server

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/ui"
)

// The hosted pages (CONTRACT §12): the login page (for /authorize, or standalone) and the
// account page. Every form carries a CSRF token; errors show on the page.

// csrfFailed is the answer to a form posted without its CSRF token.
func (s *Server) csrfFailed(w http.ResponseWriter) {
	s.pages.Render(w, http.StatusForbidden, "error", ui.View{Title: "Please try again",
		Data: "This form expired or was not sent from this site. Go back, reload the page and send it again."})
}

// handleLoginPage is GET /ui/login: a standalone login, or the account page when logged in.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.accounts.LoginSessionFrom(r.Context(), s.cookies.Session(r)); err == nil {
		http.Redirect(w, r, "/ui/account", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, account.Authorization{}, nil, "", "")
}

// handleLoginPost is POST /ui/login: the credentials, and the authorization request carried
// through the form (checked again: the form is the browser's, not ours). Success sets the
// login-session cookie and continues the authorization request (a code for its client) or
// shows the account page.
func (s *Server) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loginForm(w, r)
	if !ok {
		return
	}
	username := r.PostForm.Get("username")
	cookie, ls, err := s.accounts.BrowserLogin(r.Context(), username, r.PostForm.Get("password"), clientOf(r))
	var mfa *account.MFARequiredError
	if errors.As(err, &mfa) {
		s.renderSecondStep(w, r, http.StatusOK, a, r.PostForm, mfa.Token, "")
		return
	}
	s.loggedIn(w, r, a, r.PostForm, username, cookie, ls, err)
}

// handleLoginMFAPost is POST /ui/login/mfa: the second step of the login page, the
// authorization request still carried.
func (s *Server) handleLoginMFAPost(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loginForm(w, r)
	if !ok {
		return
	}
	token := r.PostForm.Get("mfa_token")
	cookie, ls, err := s.accounts.BrowserLoginMFA(r.Context(), token, strings.TrimSpace(r.PostForm.Get("code")), clientOf(r))
	if errors.Is(err, account.ErrInvalidCode) {
		s.renderSecondStep(w, r, http.StatusForbidden, a, r.PostForm, token, "The code is wrong or was already used.")
		return
	}
	if errors.Is(err, account.ErrInvalidMFAToken) {
		s.renderLogin(w, r, http.StatusBadRequest, a, r.PostForm, "", "This login took too long. Log in again.")
		return
	}
	s.loggedIn(w, r, a, r.PostForm, "", cookie, ls, err)
}

// loginForm reads a posted login form (either step): its CSRF token, and the authorization
// request it carries, checked again (the form is the browser's, not ours); the zero
// Authorization for a standalone login. It has answered when it reports false.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) (account.Authorization, bool) {
	if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
		s.csrfFailed(w)
		return account.Authorization{}, false
	}
	if r.PostForm.Get("client_id") == "" {
		return account.Authorization{}, true
	}
	a, err := s.accounts.CheckAuthorization(r.Context(), authorizeRequest(r.PostForm))
	if err != nil {
		s.authorizeFailed(w, r, a, err)
		return a, false
	}
	return a, true
}

// renderSecondStep shows the code form, carrying the mfa_token and the authorization request.
func (s *Server) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, a account.Authorization, form url.Values, token, problem string) {
	carry, targets := carried(a, form)
	carry["mfa_token"] = token
	v := ui.LoginView{Carry: carry}
	s.pages.Render(w, status, "mfa", ui.View{Title: "Two-step verification", CSRF: s.cookies.CSRFToken(w, r), Error: problem, Data: v}, targets...)
}

// loggedIn answers a finished log-in of the login page: the cookie set, then the
// authorization request's code or the account page; or the error on the login page.
func (s *Server) loggedIn(w http.ResponseWriter, r *http.Request, a account.Authorization, form url.Values, username, cookie string, ls store.LoginSession, err error) {
	if err != nil {
		status, msg, ok := s.userError(w, r, err)
		if !ok {
			return
		}
		var te *account.ThrottledError
		if errors.As(err, &te) {
			w.Header().Set("Retry-After", fmt.Sprint(int(te.Wait.Round(time.Second).Seconds())))
			msg = fmt.Sprintf("Too many failed attempts. Try again in %s.", te.Wait.Round(time.Second))
		} else if errors.Is(err, account.ErrInvalidCredentials) {
			// A page, not an HTTP authentication challenge: 400, not /login's 401.
			status, msg = http.StatusBadRequest, "The username or password is wrong."
		}
		s.renderLogin(w, r, status, a, form, username, msg)
		return
	}
	s.cookies.SetSession(w, cookie)
	if a.Client.ID != "" {
		s.issueCode(w, r, a, ls)
		return
	}
	http.Redirect(w, r, "/ui/account", http.StatusSeeOther)
}

// browser returns the principal of the request's login session, or sends the browser to the
// login page and reports false.
func (s *Server) browser(w http.ResponseWriter, r *http.Request) (account.Principal, store.User, bool) {
	ls, u, err := s.accounts.LoginSessionFrom(r.Context(), s.cookies.Session(r))
	if errors.Is(err, account.ErrUnauthenticated) {
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
		return account.Principal{}, store.User{}, false
	}
	if err != nil {
		s.pageFailed(w, r, err)
		return account.Principal{}, store.User{}, false
	}
	return account.Principal{UserID: u.ID, SessionID: ls.ID, Roles: u.Roles, CurrentRoles: u.Roles}, u, true
}

// handleAccountPage is GET /ui/account.
func (s *Server) handleAccountPage(w http.ResponseWriter, r *http.Request) {
	p, u, ok := s.browser(w, r)
	if !ok {
		return
	}
	s.renderAccount(w, r, http.StatusOK, p, u, r.URL.Query().Get("done"), "")
}

// accountNotices are the notices a redirect to the account page may name (?done=…).
var accountNotices = map[string]string{
	"mfa-off":  "Two-step verification is off.",
	"ended":    "The session was ended.",
	"password": "Your password was changed. Your other sessions were ended.",
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, p account.Principal, u store.User, done, problem string) {
	sessions, err := s.accounts.Sessions(r.Context(), p)
	if err != nil {
		s.pageFailed(w, r, err)
		return
	}
	v := ui.AccountView{EmailVerified: u.EmailVerified}
	v.User.Username, v.User.Email = u.Username, u.Email
	if st, err := s.accounts.MFAStatus(r.Context(), p); err == nil {
		v.MFA.Enabled, v.MFA.RecoveryCodesLeft = st.Enabled, st.RecoveryCodesLeft
	}
	for _, x := range sessions {
		v.Sessions = append(v.Sessions, ui.SessionView{ID: x.ID, UserAgent: x.UserAgent, IP: x.IP,
			Created: ui.When(x.CreatedAt), LastUsed: ui.When(x.LastUsedAt), Current: x.ID == p.SessionID})
	}
	// This browser's session first.
	slices.SortStableFunc(v.Sessions, func(a, b ui.SessionView) int {
		switch {
		case a.Current == b.Current:
			return 0
		case a.Current:
			return -1
		}
		return 1
	})
	s.pages.Render(w, status, "account", ui.View{Title: "Your account", CSRF: s.cookies.CSRFToken(w, r), Notice: accountNotices[done], Error: problem, Data: v})
}

// accountForm runs a posted account-page form: CSRF, the login session, then do; do's error
// shows on the account page, success redirects there (303) with the notice named by done.
func (s *Server) accountForm(do func(r *http.Request, p account.Principal) (done string, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
			s.csrfFailed(w)
			return
		}
		p, u, ok := s.browser(w, r)
		if !ok {
			return
		}
		done, err := do(r, p)
		if err != nil {
			status, msg, ok := s.userError(w, r, err)
			if !ok {
				return
			}
			s.renderAccount(w, r, status, p, u, "", msg)
			return
		}
		switch done {
		case "logged-out":
			s.cookies.SetSession(w, "")
			s.pages.Render(w, http.StatusOK, "message", ui.View{Title: "Logged out", Data: "You are logged out."})
		case "deleted":
			s.cookies.SetSession(w, "")
			s.pages.Render(w, http.StatusOK, "message", ui.View{Title: "Account deleted", Data: "Your account was deleted."})
		default:
			http.Redirect(w, r, "/ui/account?done="+url.QueryEscape(done), http.StatusSeeOther)
		}
	}
}

// handleMFAEnrol is POST /ui/account/mfa/enrol: a new TOTP secret, shown as a QR code with the
// form that confirms it.
func (s *Server) handleMFAEnrol(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
		s.csrfFailed(w)
		return
	}
	p, u, ok := s.browser(w, r)
	if !ok {
		return
	}
	e, err := s.accounts.EnrolTOTP(r.Context(), p)
	if err != nil {
		status, msg, ok := s.userError(w, r, err)
		if !ok {
			return
		}
		s.renderAccount(w, r, status, p, u, "", msg)
		return
	}
	// The data: URI is the server's own PNG, base64: safe as an image source.
	s.pages.Render(w, http.StatusOK, "mfa_enrol", ui.View{Title: "Set up two-step verification", CSRF: s.cookies.CSRFToken(w, r),
		Data: ui.EnrolView{QR: template.URL(e.QRDataURI), Secret: e.Secret}})
}

// handleMFAConfirm is POST /ui/account/mfa/confirm: the first code turns TOTP on and the
// recovery codes are shown, once.
func (s *Server) handleMFAConfirm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.cookies.CheckCSRF(r) {
		s.csrfFailed(w)
		return
	}
	p, u, ok := s.browser(w, r)
	if !ok {
		return
	}
	codes, err := s.accounts.ConfirmTOTP(r.Context(), p, strings.TrimSpace(r.PostForm.Get("code")), clientOf(r))
	if err != nil {
		status, msg, ok := s.userError(w, r, err)
		if !ok {
			return
		}
		s.renderAccount(w, r, status, p, u, "", msg+" Set it up again.")
		return
	}
	s.pages.Render(w, http.StatusOK, "mfa_codes", ui.View{Title: "Your recovery codes", Data: codes})
}

func (s *Server) removeMFAForm(r *http.Request, p account.Principal) (string, error) {
	proof := strings.TrimSpace(r.PostForm.Get("proof"))
	in := account.RemoveTOTPInput{Password: proof}
	if len(proof) == 6 && strings.Trim(proof, "0123456789") == "" {
		in = account.RemoveTOTPInput{Code: proof}
	}
	return "mfa-off", s.accounts.RemoveTOTP(r.Context(), p, in, clientOf(r))
}

func (s *Server) endSessionForm(r *http.Request, p account.Principal) (string, error) {
	return "ended", s.accounts.EndSession(r.Context(), p, r.PostForm.Get("id"), clientOf(r))
}

func (s *Server) logoutEverywhereForm(r *http.Request, p account.Principal) (string, error) {
	return "logged-out", s.accounts.EndEverySession(r.Context(), p, clientOf(r))
}

func (s *Server) passwordForm(r *http.Request, p account.Principal) (string, error) {
	in := account.PasswordChange{Current: r.PostForm.Get("current_password"), New: r.PostForm.Get("new_password")}
	return "password", s.accounts.ChangePassword(r.Context(), p, in, clientOf(r))
}

func (s *Server) deleteAccountForm(r *http.Request, p account.Principal) (string, error) {
	return "deleted", s.accounts.DeleteAccount(r.Context(), p, r.PostForm.Get("password"), clientOf(r))
}

func (s *Server) logoutForm(r *http.Request, p account.Principal) (string, error) {
	return "logged-out", s.accounts.EndSession(r.Context(), p, p.SessionID, clientOf(r))
}

// handleEndSessionEndpoint is GET /logout (OpenID Connect RP-Initiated Logout 1.0): with an
// id_token_hint of this server, the browser's login session ends and, when
// post_logout_redirect_uri is registered for the hint's client, the browser goes there (with
// state); without a valid hint the user is asked to confirm (a cross-site link alone cannot
// log anyone out).
func (s *Server) handleEndSessionEndpoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, ok := s.accounts.IDTokenClient(r.Context(), q.Get("id_token_hint"))
	if !ok {
		s.pages.Render(w, http.StatusOK, "logout", ui.View{Title: "Log out", CSRF: s.cookies.CSRFToken(w, r)})
		return
	}
	if ls, u, err := s.accounts.LoginSessionFrom(r.Context(), s.cookies.Session(r)); err == nil {
		p := account.Principal{UserID: u.ID, SessionID: ls.ID}
		if err := s.accounts.EndSession(r.Context(), p, ls.ID, clientOf(r)); err != nil && !errors.Is(err, account.ErrSessionNotFound) {
			s.pageFailed(w, r, err)
			return
		}
	}
	s.cookies.SetSession(w, "")
	target := q.Get("post_logout_redirect_uri")
	if target == "" || !s.accounts.PostLogoutURIRegistered(r.Context(), clientID, target) {
		s.pages.Render(w, http.StatusOK, "message", ui.View{Title: "Logged out", Data: "You are logged out."})
		return
	}
	if st := q.Get("state"); st != "" {
		u, _ := url.Parse(target)
		v := u.Query()
		v.Set("state", st)
		u.RawQuery = v.Encode()
		target = u.String()
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// handleUserInfo is GET or POST /userinfo (OpenID Connect Core §5.3).
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) error {
	c, err := s.accounts.UserInfo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	out := map[string]any{"sub": c.Subject}
	if c.Profile {
		out["preferred_username"] = c.Username
	}
	if c.Email {
		out["email"], out["email_verified"] = c.EmailAddress, c.EmailVerified
	}
	noStore(w)
	encode(w, http.StatusOK, out)
	return nil
}

// secureIssuer reports whether the issuer is served over HTTPS (cookies are then Secure and
// __Host- prefixed).
func secureIssuer(issuer string) bool { return strings.HasPrefix(issuer, "https://") }
