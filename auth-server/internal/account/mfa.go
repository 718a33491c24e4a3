package account

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/mfa"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// The second factor (CONTRACT §13). These methods are the seam of the hosted account page
// too: EnrolTOTP gives what it shows (the QR code as PNG bytes and as a data: URI),
// ConfirmTOTP the recovery codes to show once, MFAStatus what it lists.

// TOTPEnrolment is a started enrolment: the secret (for typing in by hand), its otpauth://
// URI, and the URI's QR code as a PNG image and as a data: URI.
type TOTPEnrolment struct {
	Secret    string
	URI       string
	QRPNG     []byte
	QRDataURI string
}

// MFAStatus is a user's second factor as the account page shows it.
type MFAStatus struct {
	Enabled           bool // a confirmed TOTP secret
	Pending           bool // an enrolment awaiting its confirming code
	RecoveryCodesLeft int
}

// mfaAccountKey is the throttle key of a user's second-factor attempts: its own counter,
// counted with the account rule (so 5 wrong codes block like 5 wrong passwords), and the
// client address's counter as for log-ins.
func mfaAccountKey(userID string) string { return "mfa:" + userID }

// EnrolTOTP starts (or restarts) enrolment for p's user: a new secret, sealed at rest, that
// counts once ConfirmTOTP accepts a code of it. ErrMFAEnabled when TOTP is active already;
// ErrMFAUnavailable without a key-encryption key.
func (s *Service) EnrolTOTP(ctx context.Context, p Principal) (TOTPEnrolment, error) {
	if s.sealer == nil {
		return TOTPEnrolment{}, ErrMFAUnavailable
	}
	u, err := s.User(ctx, p)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	issuer := s.cfg.MFAIssuer
	if issuer == "" {
		issuer = "auth-server"
	}
	e, err := mfa.NewTOTP(issuer, u.Username)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	sealed, err := s.sealTOTP(u.ID, e.Secret)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	png, err := mfa.QRPNG(e.URI)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if err := s.store.PutPendingTOTP(ctx, u.ID, sealed, s.now().UTC()); err != nil {
		if errors.Is(err, store.ErrMFAEnabled) {
			return TOTPEnrolment{}, ErrMFAEnabled
		}
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: e.Secret, URI: e.URI, QRPNG: png, QRDataURI: mfa.DataURI(png)}, nil
}

// ConfirmTOTP activates p's pending enrolment with a current code of it and returns the
// recovery codes, shown once and stored only as hashes. A wrong code gives ErrInvalidCode and
// counts towards throttling (*ThrottledError); nothing pending gives ErrMFANotEnabled, TOTP
// active already ErrMFAEnabled.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string, c Client) ([]string, error) {
	t, err := s.store.TOTPOf(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrMFANotEnabled
	}
	if err != nil {
		return nil, err
	}
	if t.Confirmed() {
		return nil, ErrMFAEnabled
	}
	g := s.newGate(mfaAccountKey(p.UserID), c)
	if err := g.check(ctx, p.UserID); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	step, ok, err := s.matchTOTP(t, code, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.mfaFailed(ctx, g, p.UserID, "wrong code at enrolment")
	}
	codes := mfa.NewRecoveryCodes()
	hashes := make([]string, len(codes))
	for i, rc := range codes {
		hashes[i] = mfa.HashRecovery(p.UserID, rc)
	}
	ev := audit(now, store.AuditMFAEnabled, p.UserID, p.SessionID, c)
	if err := s.store.ConfirmTOTP(ctx, p.UserID, t.Sealed, step, hashes, now, ev); err != nil {
		if errors.Is(err, store.ErrFactorUsed) {
			return nil, ErrInvalidCode // confirmed or replaced meanwhile
		}
		return nil, err
	}
	s.clearGate(ctx, g)
	return codes, nil
}

// RemoveTOTPInput proves the user's presence for a removal: a current code (TOTP or
// recovery) or the password.
type RemoveTOTPInput struct {
	Code     string
	Password string
}

// RemoveTOTP turns TOTP off for p's user (a pending enrolment is dropped without proof). A
// wrong code gives ErrInvalidCode, a wrong password ErrWrongPassword, both throttled; neither
// given ErrProofRequired; no enrolment ErrMFANotEnabled.
func (s *Service) RemoveTOTP(ctx context.Context, p Principal, in RemoveTOTPInput, c Client) (err error) {
	t, err := s.store.TOTPOf(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrMFANotEnabled
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ev := audit(now, store.AuditMFARemoved, p.UserID, p.SessionID, c)
	var f *store.Factor
	switch {
	case !t.Confirmed():
		ev.Detail = "pending enrolment dropped"
	case in.Password != "":
		u, err := s.User(ctx, p)
		if err != nil {
			return err
		}
		if err := s.confirmPassword(ctx, u, in.Password, c); err != nil {
			return err
		}
		ev.Detail = "confirmed with the password"
	case in.Code != "":
		g := s.newGate(mfaAccountKey(p.UserID), c)
		if err := g.check(ctx, p.UserID); err != nil {
			return err
		}
		factor, ok, err := s.matchFactor(t, in.Code, now)
		if err != nil {
			return err
		}
		if !ok {
			return s.mfaFailed(ctx, g, p.UserID, "wrong code at removal")
		}
		f, ev.Detail = &factor, "confirmed with a code"
		defer func() {
			if err == nil {
				s.clearGate(ctx, g)
			}
		}()
	default:
		return ErrProofRequired
	}
	err = s.store.RemoveTOTP(ctx, p.UserID, f, now, ev)
	switch {
	case errors.Is(err, store.ErrFactorUsed):
		err = ErrInvalidCode
	case errors.Is(err, store.ErrNotFound):
		err = ErrMFANotEnabled
	}
	return err
}

// MFAStatus tells whether p's user has TOTP, and how many recovery codes are left.
func (s *Service) MFAStatus(ctx context.Context, p Principal) (MFAStatus, error) {
	t, err := s.store.TOTPOf(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return MFAStatus{}, nil
	}
	if err != nil {
		return MFAStatus{}, err
	}
	st := MFAStatus{Enabled: t.Confirmed(), Pending: !t.Confirmed()}
	if st.Enabled {
		if st.RecoveryCodesLeft, err = s.store.RecoveryCodesLeft(ctx, p.UserID); err != nil {
			return MFAStatus{}, err
		}
	}
	return st, nil
}

// ResetMFA removes the TOTP secret and recovery codes of a user who lost them (an
// administrator's or the operator's act, audited with the actor); ErrMFANotEnabled when the
// user has none.
func (s *Service) ResetMFA(ctx context.Context, a Actor, ref string) error {
	u, err := s.UserByRef(ctx, ref)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.store.RemoveTOTP(ctx, u.ID, nil, now, a.audit(now, store.AuditMFAReset, u.ID))
	if errors.Is(err, store.ErrNotFound) {
		return ErrMFANotEnabled
	}
	return err
}

// matchFactor finds what code is for user's confirmed secret t: a recovery code (which the
// store spends only if it exists unused), or a TOTP code of a step later than the last one
// accepted.
func (s *Service) matchFactor(t store.TOTP, code string, now time.Time) (store.Factor, bool, error) {
	if mfa.LooksLikeRecovery(code) {
		return store.Factor{RecoveryHash: mfa.HashRecovery(t.UserID, code)}, true, nil
	}
	step, ok, err := s.matchTOTP(t, code, now)
	if err != nil || !ok || step <= t.LastStep {
		return store.Factor{}, false, err
	}
	return store.Factor{Step: step}, true, nil
}

// matchTOTP opens t's secret and matches code against it at now (mfa.Match).
func (s *Service) matchTOTP(t store.TOTP, code string, now time.Time) (int64, bool, error) {
	secret, err := s.openTOTP(t)
	if err != nil {
		return 0, false, err
	}
	return mfa.Match(secret, code, now)
}

// mfaFailed counts a wrong code on the user's second-factor counter and the address's, with
// its audit event, and gives ErrInvalidCode.
func (s *Service) mfaFailed(ctx context.Context, g gate, userID, detail string) error {
	ev := audit(s.now(), store.AuditMFAFailure, userID, "", g.client)
	ev.Detail = detail
	if err := g.fail(ctx, ev); err != nil {
		return err
	}
	return ErrInvalidCode
}

func (s *Service) clearGate(ctx context.Context, g gate) {
	if err := g.clear(ctx); err != nil {
		s.log.Warn("clear throttle failed", "err", err)
	}
}

// totpAAD binds a sealed secret to its user: a sealed secret copied to another user's row
// does not open.
func totpAAD(userID string) string { return "totp:" + userID }

func (s *Service) sealTOTP(userID, secret string) (string, error) {
	b, err := s.sealer.Seal(totpAAD(userID), []byte(secret))
	if err != nil {
		return "", fmt.Errorf("seal totp secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func (s *Service) openTOTP(t store.TOTP) (string, error) {
	if s.sealer == nil {
		return "", ErrMFAUnavailable
	}
	b, err := base64.StdEncoding.DecodeString(t.Sealed)
	if err != nil {
		return "", fmt.Errorf("open totp secret: %w", err)
	}
	plain, err := s.sealer.Open(totpAAD(t.UserID), b)
	if err != nil {
		return "", fmt.Errorf("open totp secret: %w", err)
	}
	return string(plain), nil
}
