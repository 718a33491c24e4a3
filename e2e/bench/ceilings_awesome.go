package bench

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// CeilingAwesome is /awesome_app without the service: verify the token with go-jose, read the
// user's row by its primary key through the same driver, answer the seed's JSON.
const CeilingAwesome = "awesome"

// awesomeQuery is the resource server's read of an app user (appstore.Store.User).
const awesomeQuery = `SELECT id, username, email, version, deleted, created_at, updated_at FROM app_users WHERE id = ?`

// awesomeHandler answers GET /awesome_app as the resource server does for a known user, with
// one prepared read on BENCH_DB_URL (a pool of BENCH_POOL), verifying the token with verify.
func awesomeHandler(getenv func(string) string, verify func(http.ResponseWriter, *http.Request) (accesstoken.Payload, bool)) (http.Handler, io.Closer, error) {
	pool, _ := strconv.Atoi(getenv("BENCH_POOL"))
	d, err := db.Open(context.Background(), getenv("BENCH_DB_URL"), pool)
	if err != nil {
		return nil, nil, err
	}
	st, err := d.PreparexContext(context.Background(), d.Rebind(awesomeQuery))
	if err != nil {
		_ = d.Close()
		return nil, nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := verify(w, r)
		if !ok {
			return
		}
		var id, name, email string
		var version, deleted, created, updated int64
		err := st.QueryRowContext(r.Context(), c.Subject).Scan(&id, &name, &email, &version, &deleted, &created, &updated)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if name == "" {
			name = c.PreferredUsername
		}
		w.Header().Set("Content-Type", "application/json")
		b := append([]byte(`{"accessed_user":`), strconv.Quote(name)...)
		_, _ = w.Write(append(b, `,"msg":"This is an awesome app!"}`...))
	}), d, nil
}
