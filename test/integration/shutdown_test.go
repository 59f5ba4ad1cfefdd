package integration

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// TestShutdownEndsWatches: a graceful shutdown of meshapi-apiserver ends
// the watches open on it (--shutdown-watch-termination-grace-period) and
// completes, instead of waiting its HTTP server's whole shutdown timeout
// for them: every agent and controller holds watches, and a pod is
// killed 30s after its SIGTERM.
func TestShutdownEndsWatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := framework.StartStandalone(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := versioned.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	var watches []watch.Interface
	for _, open := range []func() (watch.Interface, error){
		func() (watch.Interface, error) {
			return cs.ProjectcalicoV3().IPPools().Watch(ctx, metav1.ListOptions{})
		},
		func() (watch.Interface, error) {
			return cs.ProjectcalicoV3().WorkloadEndpoints("").Watch(ctx, metav1.ListOptions{})
		},
	} {
		w, err := open()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		watches = append(watches, w)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the server with %d watches open: %v", len(watches), err)
	}
	for i, w := range watches {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Error {
				t.Errorf("watch %d: an unexpected %s event", i, ev.Type)
			}
		}
	}
}
