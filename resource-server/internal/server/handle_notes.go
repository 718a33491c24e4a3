package server

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// Limits of a note, in characters.
const (
	maxTitleLen = 200
	maxBodyLen  = 10000
)

type noteRequest struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// validate checks a note: a title of 1–200 characters that is not only spaces, a body of at
// most 10,000, and no NUL characters (which PostgreSQL text cannot hold).
func (n noteRequest) validate() error {
	switch {
	case strings.TrimSpace(n.Title) == "":
		return errBadRequest("title is required")
	case utf8.RuneCountInString(n.Title) > maxTitleLen:
		return errBadRequest("title is longer than 200 characters")
	case utf8.RuneCountInString(n.Body) > maxBodyLen:
		return errBadRequest("body is longer than 10000 characters")
	case strings.ContainsRune(n.Title, 0) || strings.ContainsRune(n.Body, 0):
		return errBadRequest("title and body must not contain NUL characters")
	}
	return nil
}

// handleCreateNote adds a note for the token's user → 201 {id, title, body, created_at}.
func (s *Server) handleCreateNote(w http.ResponseWriter, r *http.Request) error {
	var req noteRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	n, err := s.store.CreateNote(r.Context(), identity(claims(r)), req.Title, req.Body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/notes/"+n.ID)
	httpapi.Encode(w, http.StatusCreated, n)
	return nil
}

// handleListNotes answers {"notes": [...]}, the token user's notes, oldest first.
func (s *Server) handleListNotes(w http.ResponseWriter, r *http.Request) error {
	notes, err := s.store.Notes(r.Context(), claims(r).Subject)
	if err != nil {
		return err
	}
	httpapi.Encode(w, http.StatusOK, map[string]any{"notes": notes})
	return nil
}

// handleGetNote answers one of the user's notes; another user's note is 404.
func (s *Server) handleGetNote(w http.ResponseWriter, r *http.Request) error {
	id := pathVar(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		return httpapi.ErrNotFound // not an id of ours (and never sent to the database)
	}
	n, err := s.store.Note(r.Context(), claims(r).Subject, id)
	if err != nil {
		return err
	}
	httpapi.Encode(w, http.StatusOK, n)
	return nil
}

// handleDeleteNote removes one of the user's notes → 204; another user's note is 404.
func (s *Server) handleDeleteNote(w http.ResponseWriter, r *http.Request) error {
	id := pathVar(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		return httpapi.ErrNotFound
	}
	if err := s.store.DeleteNote(r.Context(), claims(r).Subject, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
