package framework

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Three real etcd processes form the meshapi etcd of a cluster: clients
// with meshapi-apiserver's certificate write through any member; with
// the leader killed (SIGKILL) the other two elect a leader and take
// writes; restarted with its data, the killed member rejoins and serves
// what was written while it was down. Needs bin/etcd (hack/build-tools.sh
// etcd) or $ETCD.
func TestEtcdClusterLosesOneMember(t *testing.T) {
	etcd := os.Getenv(EtcdEnv)
	if etcd == "" {
		etcd = filepath.Join(RepoRoot(), "bin", "etcd")
	}
	if _, err := os.Stat(etcd); err != nil {
		t.Skipf("no etcd binary (hack/build-tools.sh etcd, or $%s): %v", EtcdEnv, err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Name: "etcd3", Dir: dir, bins: Binaries{Etcd: etcd}}
	if err := c.makePKI(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	e, err := c.startEtcdCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	c.meshapiEtcdCluster = e
	t.Cleanup(func() {
		if errs := e.stop(); len(errs) > 0 {
			t.Error(strings.Join(errs, "; "))
		}
	})
	if urls := strings.Split(c.MeshapiEtcdURL(), ","); len(urls) != 3 || !strings.HasPrefix(urls[0], "https://127.0.0.1:") {
		t.Fatalf("MeshapiEtcdURL %q, want three https URLs on loopback", c.MeshapiEtcdURL())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.clientURLs(), DialTimeout: 5 * time.Second, TLS: e.clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	put := func(value string) {
		t.Helper()
		// Until the survivors have elected a leader, a write may time out.
		err := Poll(ctx, 30*time.Second, "writing "+value, func() (bool, string) {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := cli.Put(pctx, "/e2e/key", value)
			return err == nil, errString(err)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("before")

	leader, err := c.MeshapiEtcdLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.KillMeshapiEtcdMember(leader); err != nil {
		t.Fatal(err)
	}
	put("while one member is down")
	next, err := c.MeshapiEtcdLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("member %d still leads after it was killed", leader)
	}

	if err := c.StartMeshapiEtcdMember(ctx, leader); err != nil {
		t.Fatal(err)
	}
	one, err := clientv3.New(clientv3.Config{Endpoints: []string{e.members[leader].clientURL}, DialTimeout: 5 * time.Second, TLS: e.clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	resp, err := one.Get(ctx, "/e2e/key")
	if err != nil {
		t.Fatalf("reading from the restarted member: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "while one member is down" {
		t.Fatalf("the restarted member serves %v, want the value written while it was down", resp.Kvs)
	}
}

// errString is err's text, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
