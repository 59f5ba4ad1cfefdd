package remotecluster

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// TestRemoteListWatchCompression: only the endpoints, of which a cluster
// has thousands, are listed compressed from a remote cluster; the small
// kinds' streams would each hold a decompressor for their life.
func TestRemoteListWatchCompression(t *testing.T) {
	var mu sync.Mutex
	encodings := map[string]string{} // resource → Accept-Encoding
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/")
		resource := parts[len(parts)-1]
		mu.Lock()
		encodings[resource] = r.Header.Get("Accept-Encoding")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"apiVersion":"projectcalico.org/v3","metadata":{"resourceVersion":"1"},"items":[]}`)
	}))
	defer srv.Close()
	access := &remoteaccess.Access{Kubernetes: &rest.Config{Host: srv.URL}}
	cs, err := versioned.NewForConfig(access.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range mirrorKinds() {
		if _, err := k.RemoteListWatch(cs).ListWithContext(context.Background(), metav1.ListOptions{}); err != nil {
			t.Fatalf("%s: %v", k.Name(), err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range mirrorKinds() {
		resource := k.(interface{ resourceName() string }).resourceName()
		want := "identity"
		if k.Name() == "WorkloadEndpoint" {
			want = "gzip"
		}
		if got := encodings[resource]; got != want {
			t.Errorf("%s listed with Accept-Encoding %q, want %q", k.Name(), got, want)
		}
	}
}
