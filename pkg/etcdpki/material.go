package etcdpki

import (
	"fmt"
	"net"
	"time"
)

// ClientCommonName is the subject of meshapi-apiserver's client certificate.
const ClientCommonName = "meshapi-apiserver"

// Site names where etcd runs: its headless Service, namespace and members,
// as in artifacts/deploy/20-etcd.yaml.
type Site struct {
	// Service is etcd's headless Service, also the StatefulSet's name.
	Service string
	// Namespace is the namespace of the Service.
	Namespace string
	// ClusterDomain is the cluster's DNS domain, usually cluster.local.
	ClusterDomain string
	// ExtraDNSNames and ExtraIPs are further names etcd serves under.
	ExtraDNSNames []string
	// ExtraIPs are further addresses etcd serves under.
	ExtraIPs []net.IP
}

// ServerDNSNames are the names etcd's serving certificate holds: the
// Service in every short and long form, and each member of the StatefulSet
// (<service>-N.<service>...) through a wildcard.
func (s Site) ServerDNSNames() []string {
	svc := s.Service + "." + s.Namespace + ".svc"
	names := []string{s.Service, s.Service + "." + s.Namespace, svc, "*." + s.Service, "*." + s.Service + "." + s.Namespace, "*." + svc}
	if s.ClusterDomain != "" {
		names = append(names, svc+"."+s.ClusterDomain, "*."+svc+"."+s.ClusterDomain)
	}
	return append(names, s.ExtraDNSNames...)
}

// Material is everything the install step stores: the CA, etcd's serving
// certificate (also good as a peer certificate: server and client usage)
// and meshapi-apiserver's client certificate.
type Material struct {
	// CA signs Server and Client.
	CA *CA
	// Server is etcd's serving and peer certificate.
	Server KeyPair
	// Client is meshapi-apiserver's client certificate.
	Client KeyPair
}

// Issue issues etcd's serving certificate for site and meshapi-apiserver's
// client certificate with ca, valid for validity (DefaultValidity when
// zero) from now.
func Issue(ca *CA, site Site, now time.Time, validity time.Duration) (Material, error) {
	if site.Service == "" || site.Namespace == "" {
		return Material{}, fmt.Errorf("issuing etcd certificates: service %q and namespace %q must both be set", site.Service, site.Namespace)
	}
	server, err := ca.Issue(Request{
		CommonName: site.Service, DNSNames: site.ServerDNSNames(), IPs: site.ExtraIPs,
		Server: true, Client: true, Validity: validity,
	}, now)
	if err != nil {
		return Material{}, err
	}
	client, err := ca.Issue(Request{CommonName: ClientCommonName, Client: true, Validity: validity}, now)
	if err != nil {
		return Material{}, err
	}
	return Material{CA: ca, Server: server, Client: client}, nil
}
