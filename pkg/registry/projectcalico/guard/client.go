package guard

import (
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

// dialTimeout bounds each connection attempt to etcd.
const dialTimeout = 20 * time.Second

// NewClient returns an etcd client for the servers and TLS files of the
// API server's own storage configuration (--etcd-servers, --etcd-certfile,
// --etcd-keyfile, --etcd-cafile). It connects lazily; Close it when done.
func NewClient(t storagebackend.TransportConfig) (*clientv3.Client, error) {
	if len(t.ServerList) == 0 {
		return nil, fmt.Errorf("etcd servers: empty list")
	}
	cfg := clientv3.Config{Endpoints: t.ServerList, DialTimeout: dialTimeout}
	if t.CertFile != "" || t.KeyFile != "" || t.TrustedCAFile != "" {
		tlsInfo := transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile}
		tlsConfig, err := tlsInfo.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS (cert %q, key %q, CA %q): %w", t.CertFile, t.KeyFile, t.TrustedCAFile, err)
		}
		cfg.TLS = tlsConfig
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", t.ServerList, err)
	}
	return c, nil
}
