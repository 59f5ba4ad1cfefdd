package statusserver

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "statusserver_test_total", Help: "A counter of the test."})
	reg.MustRegister(c)
	c.Add(3)
	unhealthy := errors.New("dataplane: programming the VXLAN overlay failed")
	cases := []struct {
		name       string
		cfg        Config
		path       string
		wantCode   int
		wantInBody string
	}{
		{"metrics", Config{Gatherer: reg}, "/metrics", 200, "statusserver_test_total 3"},
		{"healthy by default", Config{}, "/healthz", 200, "ok"},
		{"unhealthy names the error", Config{Healthz: func() error { return unhealthy }}, "/healthz", 503, unhealthy.Error()},
		{"readyz follows healthz", Config{Healthz: func() error { return unhealthy }}, "/readyz", 503, unhealthy.Error()},
		{"readyz of its own", Config{Readyz: func() (string, error) { return "ok (standby)", nil }}, "/readyz", 200, "ok (standby)"},
		{"no profiling by default", Config{}, "/debug/pprof/", 404, ""},
		{"profiling", Config{Profiling: true}, "/debug/pprof/", 200, "goroutine"},
		{"profiling cmdline", Config{Profiling: true}, "/debug/pprof/cmdline", 200, "statusserver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Address = "127.0.0.1:0"
			s, err := Start(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			resp, err := http.Get("http://" + s.Addr().String() + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("GET %s: %d, want %d (%s)", tc.path, resp.StatusCode, tc.wantCode, body)
			}
			if !strings.Contains(string(body), tc.wantInBody) {
				t.Fatalf("GET %s: body %q does not contain %q", tc.path, body, tc.wantInBody)
			}
		})
	}
}

func TestStartNamesTheAddress(t *testing.T) {
	_, err := Start(Config{Address: "256.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "256.0.0.1:0") {
		t.Fatalf("Start on a bad address: %v, want an error naming it", err)
	}
}
