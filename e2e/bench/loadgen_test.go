package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRenderIsAValidRequest(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   []byte
		header []string
		wantCT string
	}{
		{name: "get with header", method: "GET", header: []string{"Authorization", "Bearer x.y.z"}},
		{name: "post json", method: "POST", body: []byte(`{"a":1}`), wantCT: "application/json"},
		{name: "post form", method: "POST", body: []byte("a=1"), header: []string{"Content-Type", "application/x-www-form-urlencoded"},
			wantCT: "application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := Render("example.test:80", tt.method, "/p?q=1", tt.body, tt.header...)
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				t.Fatalf("ReadRequest: %v\n%s", err, raw)
			}
			body, _ := io.ReadAll(req.Body)
			if req.Method != tt.method || req.URL.String() != "/p?q=1" || req.Host != "example.test:80" || !bytes.Equal(body, tt.body) {
				t.Errorf("got %s %s host %s body %q", req.Method, req.URL, req.Host, body)
			}
			if got := req.Header.Get("Content-Type"); got != tt.wantCT {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantCT)
			}
			for i := 0; i+1 < len(tt.header); i += 2 {
				if got := req.Header.Get(tt.header[i]); got != tt.header[i+1] {
					t.Errorf("%s = %q, want %q", tt.header[i], got, tt.header[i+1])
				}
			}
		})
	}
}

func TestRunCountsSuccessesAndFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		path             string
		wantOK, wantFail bool
	}{{"/ok", true, false}, {"/fail", false, true}} {
		t.Run(tt.path, func(t *testing.T) {
			var conns []*Conn
			res, err := Run(context.Background(), Load{Concurrency: 4, Duration: 200 * time.Millisecond, Worker: func(int) (Op, error) {
				c := NewConn(addr)
				conns = append(conns, c)
				raw := Render(addr, "GET", tt.path, nil)
				return func() error {
					r, err := c.Do(raw)
					if err == nil && r.Status != 200 {
						return io.ErrUnexpectedEOF
					}
					return err
				}, nil
			}})
			for _, c := range conns {
				c.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			if (res.OK > 0) != tt.wantOK || (res.Failed > 0) != tt.wantFail {
				t.Fatalf("ok %d, failed %d", res.OK, res.Failed)
			}
			if tt.wantOK && (res.Rate() <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Elapsed < 200*time.Millisecond) {
				t.Errorf("rate %.0f, p50 %s, p99 %s, elapsed %s", res.Rate(), res.P50, res.P99, res.Elapsed)
			}
			if tt.wantFail && res.FirstErr == "" {
				t.Error("no first error recorded")
			}
		})
	}
}

func TestFigureMedianAndRange(t *testing.T) {
	run := func(ok int) Result {
		return Result{OK: ok, Elapsed: time.Second, P99: time.Duration(ok) * time.Millisecond}
	}
	tests := []struct {
		runs           []int
		median, lo, hi float64
	}{
		{[]int{5}, 5, 5, 5},
		{[]int{9, 1, 5}, 5, 1, 9},
		{[]int{4, 1, 3, 2}, 2, 1, 4},
	}
	for _, tt := range tests {
		var f Figure
		for _, n := range tt.runs {
			f.Runs = append(f.Runs, run(n))
		}
		lo, hi := f.MinMax()
		if f.Rate() != tt.median || lo != tt.lo || hi != tt.hi {
			t.Errorf("%v: median %.0f (%.0f–%.0f), want %.0f (%.0f–%.0f)", tt.runs, f.Rate(), lo, hi, tt.median, tt.lo, tt.hi)
		}
		if got, want := f.P99(), time.Duration(tt.median)*time.Millisecond; got != want {
			t.Errorf("%v: p99 %s, want %s", tt.runs, got, want)
		}
	}
}

func TestParseArgon2(t *testing.T) {
	tests := []struct {
		in      string
		want    Argon2
		wantErr bool
	}{
		{in: "m=19456,t=2,p=1", want: Argon2{Memory: 19456, Time: 2, Threads: 1}},
		{in: " m=65536, t=3, p=4 ", want: Argon2{Memory: 65536, Time: 3, Threads: 4}},
		{in: "m=19456,t=2", wantErr: true},
		{in: "m=0,t=2,p=1", wantErr: true},
		{in: "m=1,t=2,p=1,x=3", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseArgon2(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseArgon2(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
