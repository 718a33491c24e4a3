package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// ErrorMapper returns the API error that answers err, and whether it knows one. A server maps
// its own sentinel errors (store, account service) with one.
type ErrorMapper func(err error) (*Error, bool)

// Mapping pairs a sentinel error with the API error that answers it.
type Mapping struct {
	Err error
	API *Error
}

// Table is the ErrorMapper of a table of mappings, consulted in order with errors.Is: the
// first whose Err matches answers.
func Table(m ...Mapping) ErrorMapper {
	return func(err error) (*Error, bool) {
		for _, e := range m {
			if errors.Is(err, e.Err) {
				return e.API, true
			}
		}
		return nil, false
	}
}

// Errors is the one place errors become HTTP responses.
type Errors struct {
	log     *slog.Logger
	mappers []ErrorMapper
}

// NewErrors returns the error writer of a server: mappers are consulted in order for errors
// that are not already an *Error. A nil log discards.
func NewErrors(log *slog.Logger, mappers ...ErrorMapper) *Errors {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Errors{log: log, mappers: mappers}
}

// Write answers err as JSON {"error", "error_description"}:
//   - a context.Canceled while the request's context is done means the client went away:
//     nothing is written;
//   - an *Error in err's chain is answered as it is;
//   - else the first mapper that knows err answers (a server maps its database-unavailable
//     sentinel to ErrUnavailable: 503 with Retry-After);
//   - else a context.DeadlineExceeded is ErrUnavailable, and anything else ErrInternal, a
//     bare 500;
//   - a 503 is logged at warn and any other 5xx at error, with the request id and the
//     error, which never reaches the client.
func (e *Errors) Write(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	ae, ok := e.resolve(r, err)
	if !ok {
		return
	}
	h := w.Header()
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	if ae.Challenge != "" {
		h.Set("WWW-Authenticate", ae.Challenge)
	}
	if ae.Status == http.StatusUnauthorized {
		h.Set("Cache-Control", "no-store")
	}
	Encode(w, ae.Status, errorBody{Error: ae.Code, Description: ae.Description})
}

// errorBody is the JSON of an error response (RFC 6749 §5.2).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// resolve finds the API error of err; false means nothing is to be written.
func (e *Errors) resolve(r *http.Request, err error) (*Error, bool) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil, false // the client went away
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae, true
	}
	ae = e.mapped(err)
	switch {
	case ae.Status == http.StatusServiceUnavailable:
		e.log.Warn("service unavailable", "request_id", RequestID(ctx), "err", err)
	case ae.Status >= 500:
		e.log.Error("internal error", "request_id", RequestID(ctx), "method", r.Method, "path", r.URL.Path, "err", err)
	}
	return ae, true
}

// mapped is the API error of an error that is not an *Error: the first mapper's, else
// ErrUnavailable for a deadline, else ErrInternal.
func (e *Errors) mapped(err error) *Error {
	for _, m := range e.mappers {
		if ae, ok := m(err); ok {
			return ae
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable
	}
	return ErrInternal
}

// HandlerFunc is a handler that returns its error to the one place that answers errors.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorFunc answers an error (Errors.Write, or a server's own writer).
type ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

// Handle adapts h to an http.Handler whose errors onErr answers.
func Handle(h HandlerFunc, onErr ErrorFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			onErr(w, r, err)
		}
	})
}

// Handle adapts h to an http.Handler whose errors e answers.
func (e *Errors) Handle(h HandlerFunc) http.Handler { return Handle(h, e.Write) }
