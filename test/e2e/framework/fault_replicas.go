package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
)

// Two meshapi-apiserver replicas of one cluster, as a Deployment with two
// replicas behind the APIService's Service runs them. Both listen on the
// cluster's MeshapiPort with SO_REUSEPORT, so the kernel spreads the
// aggregator's connections over them (the APIService's Service, an
// ExternalName, names that port); each has a serving certificate of its
// own (both valid for the Service's name), by which a client can tell
// which replica a connection reached: MeshapiReplicaConfig pins a client
// to one replica with it.

// pinDialAttempts bounds how many connections a pinned client opens to
// reach its replica: with two replicas the kernel picks either by a hash
// of the connection's addresses, so each attempt misses with probability
// 1/2.
const pinDialAttempts = 64

// StartMeshapiReplica starts the cluster's second meshapi-apiserver
// replica (same etcd, flags and credentials as the first, its own serving
// certificate, data directory and log) and waits until it is ready; it
// starts it again if it was stopped or killed. The first replica must
// have been started (StartCluster does).
func (c *Cluster) StartMeshapiReplica(ctx context.Context) error {
	if c.meshapiReplica == nil {
		var err error
		c.meshapiReplicaServing, err = c.pki.ca.sign(filepath.Join(c.Dir, "pki"), certRequest{file: "meshapi-apiserver-2", commonName: MeshapiService + "-2",
			server: true, ips: []net.IP{net.ParseIP("127.0.0.1")}, dnsNames: []string{MeshapiService + "." + MeshapiNamespace + ".svc", "localhost"}})
		if err != nil {
			return fmt.Errorf("cluster %s: the second meshapi-apiserver replica's certificate: %w", c.Name, err)
		}
		c.meshapiReplica = &process{name: "meshapi-apiserver (second replica)", path: c.bins.MeshapiAPIServer,
			log:  filepath.Join(c.Dir, "logs", "meshapi-apiserver-2.log"),
			args: c.meshapiArgs(filepath.Join(c.Dir, "meshapi-apiserver.kubeconfig"), c.meshapiReplicaServing, filepath.Join(c.Dir, "meshapi-data-2"))}
	}
	if err := c.meshapiReplica.start(); err != nil {
		return err
	}
	cfg, err := c.MeshapiReplicaConfig(2)
	if err != nil {
		return err
	}
	return waitReadyz(ctx, cfg, c.meshapiReplica, 90*time.Second)
}

// StopMeshapiReplica stops the second replica (SIGTERM: it drains).
func (c *Cluster) StopMeshapiReplica() error {
	if c.meshapiReplica == nil {
		return nil
	}
	return c.meshapiReplica.stop(30 * time.Second)
}

// KillMeshapiReplica kills the second replica with SIGKILL;
// StartMeshapiReplica starts it again.
func (c *Cluster) KillMeshapiReplica() error {
	if c.meshapiReplica == nil {
		return fmt.Errorf("cluster %s: no second meshapi-apiserver replica was started", c.Name)
	}
	return c.meshapiReplica.kill()
}

// MeshapiReplicaConfig returns an administrator's client configuration
// (the cluster's admin client certificate, which meshapi-apiserver
// authenticates by delegation) whose every connection reaches replica n
// (1: the first, StartCluster's; 2: StartMeshapiReplica's) directly, not
// through the aggregator: a connection that the kernel hands to the other
// replica, as the serving certificate shows in the TLS handshake, is
// closed and dialled again. The configuration has no client-side rate
// limit.
func (c *Cluster) MeshapiReplicaConfig(n int) (*rest.Config, error) {
	var servingFile string
	switch n {
	case 1:
		servingFile = c.pki.meshapi.CertFile
	case 2:
		if c.meshapiReplica == nil {
			return nil, fmt.Errorf("cluster %s: no second meshapi-apiserver replica was started", c.Name)
		}
		servingFile = c.meshapiReplicaServing.CertFile
	default:
		return nil, fmt.Errorf("cluster %s: meshapi-apiserver replica %d: there are replicas 1 and 2", c.Name, n)
	}
	serial, err := certSerial(servingFile)
	if err != nil {
		return nil, err
	}
	roots, err := certPool(c.pki.ca.CertFile)
	if err != nil {
		return nil, err
	}
	admin, err := tls.LoadX509KeyPair(c.pki.admin.CertFile, c.pki.admin.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("the admin certificate %s: %w", c.pki.admin.CertFile, err)
	}
	tlsConfig := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{admin}, ServerName: "localhost",
		NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &tls.Dialer{Config: tlsConfig, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
		for range pinDialAttempts {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if peer := conn.(*tls.Conn).ConnectionState().PeerCertificates; len(peer) > 0 && peer[0].SerialNumber.Cmp(serial) == 0 {
				return conn, nil
			}
			conn.Close()
		}
		return nil, fmt.Errorf("%s: %d connections, none reached meshapi-apiserver replica %d of %s (serving certificate serial %s): is it running?",
			addr, pinDialAttempts, n, c.Name, serial)
	}
	return &rest.Config{
		Host:      "https://127.0.0.1:" + strconv.Itoa(c.MeshapiPort),
		Transport: &http.Transport{DialTLSContext: dial, MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second},
		QPS:       -1,
	}, nil
}

// certSerial returns the serial number of the PEM certificate in file.
func certSerial(file string) (*big.Int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cert.SerialNumber, nil
}

// certPool returns a pool of the PEM certificates in file.
func certPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return pool, nil
}
