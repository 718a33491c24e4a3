package server

// Placeholder handlers for refresh sessions; replaced by the refresh-session work.

import "net/http"

var errNotImplemented = &apiError{Status: http.StatusNotImplemented, Code: "not_implemented", Description: "not implemented yet"}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, token string) error {
	return errNotImplemented
}
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error { return errNotImplemented }
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error  { return errNotImplemented }
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error  { return errNotImplemented }
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	return errNotImplemented
}
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) error {
	return errNotImplemented
}
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	return errNotImplemented
}
