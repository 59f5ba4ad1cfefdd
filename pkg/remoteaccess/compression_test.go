package remoteaccess

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

func TestWithoutCompression(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"WorkloadEndpointList","apiVersion":"projectcalico.org/v3","metadata":{"resourceVersion":"1"},"items":[]}`))
	}))
	defer srv.Close()
	access := &Access{Kubernetes: &rest.Config{Host: srv.URL}}
	cs, err := versioned.NewForConfig(access.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"by default the transport asks for gzip", context.Background(), "gzip"},
		{"WithoutCompression asks for none", WithoutCompression(context.Background()), "identity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			if _, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(tc.ctx, metav1.ListOptions{}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("Accept-Encoding sent: %q, want [%q]", got, tc.want)
			}
		})
	}
}
