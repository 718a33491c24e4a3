package httpapitest_test

import (
	"net/http"
	"testing"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/internal/httpapi/httpapitest"
)

func TestCheckRecoveryOnSharedMiddleware(t *testing.T) {
	httpapitest.CheckRecovery(t, func(h http.Handler) http.Handler {
		return httpapi.Middleware(h, httpapi.Options[struct{}]{})
	})
}
