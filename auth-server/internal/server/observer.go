package server

import "github.com/jwtauth/jwtauth/auth-server/internal/account"

// AccountObserver returns m as the account service's observer: login and refresh outcomes and
// issued tokens become metrics.
func (m *Metrics) AccountObserver() account.Observer { return accountMetrics{m} }

type accountMetrics struct{ m *Metrics }

func (a accountMetrics) Login(outcome string)           { a.m.login(outcome) }
func (a accountMetrics) Refresh(outcome string)         { a.m.refresh(outcome) }
func (a accountMetrics) AccessTokenIssued(token string) { a.m.tokenIssued(token) }
