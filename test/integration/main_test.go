// Package integration tests the real meshapi API server, in-process on an
// embedded etcd, through the generated typed clientset, the dynamic and
// metadata clients, and the real kubectl.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// server is the one API server of this test binary: the generic API
// server's feature gates are process-wide, so tests share one server and
// keep apart by object names.
var server *framework.Server

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "meshapi-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	server, err = framework.StartStandalone(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting meshapi-apiserver:", err)
		return 1
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping meshapi-apiserver:", err)
		return 1
	}
	return code
}

func clientset(t *testing.T) *versioned.Clientset {
	t.Helper()
	c, err := versioned.NewForConfig(rest.CopyConfig(server.Config))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dynamicClient(t *testing.T) *dynamic.DynamicClient {
	t.Helper()
	c, err := dynamic.NewForConfig(rest.CopyConfig(server.Config))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func metadataClient(t *testing.T) metadata.Interface {
	t.Helper()
	c, err := metadata.NewForConfig(rest.CopyConfig(server.Config))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
