package framework

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meshapi/meshapi/test/testport"
)

// A cluster's meshapi etcd as several members (ClusterOptions.MeshapiEtcdMembers):
// one real etcd process (bin/etcd, upstream's program) per member, as a
// production install runs three. Each serves clients over https with the
// certificate and client certificate authentication of the in-process
// etcd (the cluster's meshapi etcd CA), and talks to its peers over https
// with a peer certificate of that CA, each side authenticating the other.
// Everything listens on loopback; data is under the cluster's directory
// (meshapi-etcd-<n>), logs under logs/ (meshapi-etcd-<n>.log).

// etcdStartTimeout bounds how long a member may take to answer with a
// leader after it started.
const etcdStartTimeout = 90 * time.Second

// etcdMember is one etcd process of an etcdCluster.
type etcdMember struct {
	// name is the member's etcd name, m1, m2, ...
	name string
	// clientURL and peerURL are where it serves clients and peers.
	clientURL, peerURL string
	proc               *process
}

// etcdCluster is a multi-member etcd, every member a process.
type etcdCluster struct {
	members []*etcdMember
	// clientTLS is a client's TLS towards every member: the cluster's
	// meshapi etcd CA and meshapi-apiserver's client certificate.
	clientTLS *tls.Config
}

// startEtcdCluster starts n etcd members for cluster c's meshapi etcd
// with c's meshapi etcd PKI and waits until every member answers and
// they agree on a leader.
func (c *Cluster) startEtcdCluster(ctx context.Context, n int) (*etcdCluster, error) {
	if _, err := os.Stat(c.bins.Etcd); err != nil {
		return nil, fmt.Errorf("etcd %q: %w (hack/build-tools.sh etcd builds bin/etcd; or set $%s)", c.bins.Etcd, err, EtcdEnv)
	}
	peer, err := c.pki.etcdCA.sign(filepath.Join(c.Dir, "pki"), certRequest{file: "meshapi-etcd-peer", commonName: "meshapi-etcd-peer",
		server: true, client: true, ips: []net.IP{net.ParseIP("127.0.0.1")}, dnsNames: []string{"localhost"}})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: the meshapi etcd's peer certificate: %w", c.Name, err)
	}
	clientTLS, err := c.meshapiEtcdClientTLS()
	if err != nil {
		return nil, err
	}
	ports, err := distinctFreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	e := &etcdCluster{clientTLS: clientTLS}
	var initial []string
	for i := range n {
		m := &etcdMember{name: "m" + strconv.Itoa(i+1),
			clientURL: "https://127.0.0.1:" + strconv.Itoa(ports[2*i]), peerURL: "https://127.0.0.1:" + strconv.Itoa(ports[2*i+1])}
		e.members = append(e.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for i, m := range e.members {
		m.proc = &process{name: fmt.Sprintf("meshapi etcd member %s", m.name), path: c.bins.Etcd,
			log:  filepath.Join(c.Dir, "logs", fmt.Sprintf("meshapi-etcd-%d.log", i+1)),
			args: c.etcdMemberArgs(m, filepath.Join(c.Dir, fmt.Sprintf("meshapi-etcd-%d", i+1)), strings.Join(initial, ","), peer)}
		if err := m.proc.start(); err != nil {
			e.stop()
			return nil, err
		}
	}
	for i := range e.members {
		if err := e.waitMember(ctx, i, etcdStartTimeout); err != nil {
			e.stop()
			return nil, err
		}
	}
	return e, nil
}

// etcdMemberArgs are member m's flags: https for clients and peers, both
// authenticating the other side by the cluster's meshapi etcd CA.
func (c *Cluster) etcdMemberArgs(m *etcdMember, dataDir, initialCluster string, peer keyPair) []string {
	p := c.pki
	return []string{
		"--name=" + m.name,
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + m.clientURL,
		"--advertise-client-urls=" + m.clientURL,
		"--listen-peer-urls=" + m.peerURL,
		"--initial-advertise-peer-urls=" + m.peerURL,
		// Read only when the data directory is empty: a restarted member
		// rejoins from its own data.
		"--initial-cluster=" + initialCluster,
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + c.Name + "-meshapi-etcd",
		"--cert-file=" + p.etcdServer.CertFile,
		"--key-file=" + p.etcdServer.KeyFile,
		"--trusted-ca-file=" + p.etcdCA.CertFile,
		"--client-cert-auth",
		"--peer-cert-file=" + peer.CertFile,
		"--peer-key-file=" + peer.KeyFile,
		"--peer-trusted-ca-file=" + p.etcdCA.CertFile,
		"--peer-client-cert-auth",
		// As the in-process etcd keeps its keyspace small.
		"--auto-compaction-mode=periodic",
		"--auto-compaction-retention=1h",
		"--logger=zap",
		"--log-outputs=stderr",
	}
}

// meshapiEtcdClientTLS is a client's TLS towards the meshapi etcd:
// meshapi-apiserver's client certificate, the meshapi etcd CA.
func (c *Cluster) meshapiEtcdClientTLS() (*tls.Config, error) {
	roots, err := certPool(c.pki.etcdCA.CertFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.pki.etcdClient.CertFile, c.pki.etcdClient.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("the meshapi etcd client certificate %s: %w", c.pki.etcdClient.CertFile, err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// clientURLs are the members' client URLs, in member order.
func (e *etcdCluster) clientURLs() []string {
	var urls []string
	for _, m := range e.members {
		urls = append(urls, m.clientURL)
	}
	return urls
}

// memberStatus asks member i for its status (its ID, the leader it
// knows, its raft index) over a client of its own.
func (e *etcdCluster) memberStatus(ctx context.Context, i int) (*clientv3.StatusResponse, error) {
	m := e.members[i]
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.clientURL}, DialTimeout: 5 * time.Second, TLS: e.clientTLS})
	if err != nil {
		return nil, fmt.Errorf("etcd member %s at %s: %w", m.name, m.clientURL, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, m.clientURL)
	if err != nil {
		return nil, fmt.Errorf("status of etcd member %s at %s: %w", m.name, m.clientURL, err)
	}
	return st, nil
}

// waitMember waits until member i answers its status with a leader,
// failing early if its process exits.
func (e *etcdCluster) waitMember(ctx context.Context, i int, timeout time.Duration) error {
	m := e.members[i]
	deadline := time.Now().Add(timeout)
	last := "not asked yet"
	for time.Now().Before(deadline) {
		if ended, err := m.proc.exited(); ended {
			return fmt.Errorf("etcd member %s exited: %v\n%s", m.name, err, m.proc.tail(20))
		}
		st, err := e.memberStatus(ctx, i)
		switch {
		case err != nil:
			last = err.Error()
		case st.Leader == 0:
			last = fmt.Sprintf("etcd member %s has no leader", m.name)
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("etcd member %s not serving with a leader after %s: %s\n%s", m.name, timeout, last, m.proc.tail(20))
}

// leader returns the index of the member that leads, as the first
// running member that answers says: the member whose ID is the leader's.
func (e *etcdCluster) leader(ctx context.Context) (int, error) {
	var errs []string
	for i, m := range e.members {
		if m.proc.pid() == 0 {
			continue
		}
		st, err := e.memberStatus(ctx, i)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if st.Leader == 0 {
			errs = append(errs, fmt.Sprintf("etcd member %s has no leader", m.name))
			continue
		}
		if st.Header.MemberId == st.Leader {
			return i, nil
		}
		for j := range e.members {
			if j == i {
				continue
			}
			if other, err := e.memberStatus(ctx, j); err == nil && other.Header.MemberId == st.Leader {
				return j, nil
			}
		}
		errs = append(errs, fmt.Sprintf("etcd member %s names leader %x, which no member answers as", m.name, st.Leader))
	}
	return -1, fmt.Errorf("no etcd member leads: %s", strings.Join(errs, "; "))
}

// stop stops every member (SIGTERM, then SIGKILL after 10 s).
func (e *etcdCluster) stop() []string {
	var errs []string
	for _, m := range e.members {
		if m.proc != nil {
			if err := m.proc.stop(10 * time.Second); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	return errs
}

// MeshapiEtcdMembers is the number of members of the cluster's meshapi
// etcd: 1 for the in-process etcd.
func (c *Cluster) MeshapiEtcdMembers() int {
	if c.meshapiEtcdCluster == nil {
		return 1
	}
	return len(c.meshapiEtcdCluster.members)
}

// MeshapiEtcdLeader returns which member (0-based) of the cluster's
// multi-member meshapi etcd leads, asking the members (etcd's Status).
func (c *Cluster) MeshapiEtcdLeader(ctx context.Context) (int, error) {
	if c.meshapiEtcdCluster == nil {
		return -1, fmt.Errorf("cluster %s: its meshapi etcd has one member, in-process (ClusterOptions.MeshapiEtcdMembers)", c.Name)
	}
	return c.meshapiEtcdCluster.leader(ctx)
}

// KillMeshapiEtcdMember kills member i (0-based) of the cluster's
// multi-member meshapi etcd with SIGKILL; StartMeshapiEtcdMember starts
// it again.
func (c *Cluster) KillMeshapiEtcdMember(i int) error {
	m, err := c.meshapiEtcdMember(i)
	if err != nil {
		return err
	}
	return m.proc.kill()
}

// StartMeshapiEtcdMember starts member i again, with its data directory
// and flags, and waits until it answers with a leader.
func (c *Cluster) StartMeshapiEtcdMember(ctx context.Context, i int) error {
	m, err := c.meshapiEtcdMember(i)
	if err != nil {
		return err
	}
	if err := m.proc.start(); err != nil {
		return err
	}
	return c.meshapiEtcdCluster.waitMember(ctx, i, etcdStartTimeout)
}

// meshapiEtcdMember returns member i of the multi-member meshapi etcd.
func (c *Cluster) meshapiEtcdMember(i int) (*etcdMember, error) {
	if c.meshapiEtcdCluster == nil {
		return nil, fmt.Errorf("cluster %s: its meshapi etcd has one member, in-process (ClusterOptions.MeshapiEtcdMembers)", c.Name)
	}
	if i < 0 || i >= len(c.meshapiEtcdCluster.members) {
		return nil, fmt.Errorf("cluster %s: meshapi etcd member %d: there are members 0 to %d", c.Name, i, len(c.meshapiEtcdCluster.members)-1)
	}
	return c.meshapiEtcdCluster.members[i], nil
}

// distinctFreePorts returns n different free TCP ports on 127.0.0.1.
func distinctFreePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		p, err := testport.Free()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}
