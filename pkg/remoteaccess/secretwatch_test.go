package remoteaccess

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// TestSecretWatcher follows the Secrets that RCCs name through a client-go
// fake of the Kubernetes API: one watch per Secret however many RCCs name
// it, a change queues exactly the RCCs naming that Secret, and a watch
// stops when its last RCC names another Secret or none.
func TestSecretWatcher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secret := func(name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "calico-system", Name: name}, Data: map[string][]byte{"k": []byte("v1")}}
	}
	kube := kubefake.NewClientset(secret("for-b"), secret("for-c"), secret("unrelated"))
	var mu sync.Mutex
	var got []string
	w := NewSecretWatcher(kube, func(rcc string) {
		mu.Lock()
		got = append(got, rcc)
		mu.Unlock()
	})
	ref := func(name string) *corev1.ObjectReference {
		return &corev1.ObjectReference{Namespace: "calico-system", Name: name}
	}
	// changedBy updates the Secret name and checks that exactly the RCCs
	// want are queued for it.
	changedBy := func(name string, want ...string) {
		t.Helper()
		s, err := kube.CoreV1().Secrets("calico-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Data["k"] = []byte(time.Now().String())
		mu.Lock()
		got = nil
		mu.Unlock()
		if _, err := kube.CoreV1().Secrets("calico-system").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		queued := func() []string {
			mu.Lock()
			defer mu.Unlock()
			have := slices.Clone(got)
			slices.Sort(have)
			return slices.Compact(have)
		}
		if len(want) == 0 {
			time.Sleep(500 * time.Millisecond) // an event would have come by now
		}
		for deadline := time.Now().Add(10 * time.Second); !slices.Equal(queued(), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("updating Secret %s queued %v, want %v", name, queued(), want)
			}
		}
	}

	w.Set(ctx, "cluster-b", ref("for-b"))
	w.Set(ctx, "cluster-b2", ref("for-b"))
	w.Set(ctx, "cluster-c", ref("for-c"))
	if n := w.Watched(); n != 2 {
		t.Fatalf("watching %d Secrets, want 2", n)
	}
	// The watches' first lists queue their RCCs: wait for them, so that
	// they are not counted as queued by an update below.
	listed := func(rccs ...string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			all := true
			for _, r := range rccs {
				all = all && slices.Contains(got, r)
			}
			mu.Unlock()
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the first lists did not queue %v", rccs)
			}
		}
	}
	listed("cluster-b", "cluster-b2", "cluster-c")
	changedBy("for-b", "cluster-b", "cluster-b2")
	changedBy("for-c", "cluster-c")
	changedBy("unrelated")

	// cluster-b moves to for-c; cluster-b2 is the last on for-b.
	w.Set(ctx, "cluster-b", ref("for-c"))
	w.Set(ctx, "cluster-b", ref("for-c")) // unchanged: nothing to do
	changedBy("for-c", "cluster-b", "cluster-c")
	changedBy("for-b", "cluster-b2")
	w.Set(ctx, "cluster-b2", nil)
	if n := w.Watched(); n != 1 {
		t.Fatalf("watching %d Secrets after for-b's last RCC left, want 1", n)
	}
	changedBy("for-b")
	w.Set(ctx, "cluster-b", nil)
	w.Set(ctx, "cluster-c", nil)
	if n := w.Watched(); n != 0 {
		t.Fatalf("watching %d Secrets with no RCC left, want 0", n)
	}
}
