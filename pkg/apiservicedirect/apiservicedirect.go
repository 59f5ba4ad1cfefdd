// Package apiservicedirect builds a client configuration that reaches the
// server behind an aggregated APIService directly, the way kube-apiserver's
// aggregator reaches it, instead of through kube-apiserver.
//
// A request through the aggregator crosses kube-apiserver's whole filter
// chain (authentication, priority and fairness, tracing, authorization)
// and its reverse proxy before meshapi-apiserver runs the same chain
// again. For meshapi-controller, which writes a mirror for every change of
// every remote endpoint, that hop was most of the requests kube-apiserver
// proxied in the soak (BENCHMARKS.md). Going direct, the server
// authenticates the client's own credentials (its delegated TokenReview,
// cached) and authorizes them (its delegated SubjectAccessReview, cached)
// as it does for every request; nothing is skipped that the server checks.
//
// The target is resolved as the aggregator resolves it
// (k8s.io/apiserver/pkg/util/proxy.ResolveCluster): the APIService's
// Service; its ClusterIP (ClusterIP, NodePort and LoadBalancer Services)
// or its externalName (ExternalName Services). The server is verified as
// the aggregator verifies it: against the APIService's caBundle, for the
// name <service>.<namespace>.svc. The Service is resolved again for every
// new connection, so a replaced Service is followed; the CA bundle is read
// once, and WaitChanged reports when the APIService changes.
package apiservicedirect

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// APIServices is the resource of kube-aggregator's APIService objects.
var APIServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// ErrNotDirect is wrapped by the errors of APIServices that cannot be
// reached directly: one served by kube-apiserver itself (no service), one
// that skips TLS verification, or one without a caBundle.
var ErrNotDirect = errors.New("cannot be reached directly")

// Service is what an APIService says about the server behind it.
type Service struct {
	// APIService is the APIService's name, e.g. v3.projectcalico.org.
	APIService string
	// Namespace, Name and Port are its spec.service.
	Namespace, Name string
	Port            int32
	// CABundle is its spec.caBundle, PEM.
	CABundle []byte
}

// ServerName is the name the server's certificate is verified for, as the
// aggregator verifies it: <service>.<namespace>.svc.
func (s Service) ServerName() string { return s.Name + "." + s.Namespace + ".svc" }

// Equal reports whether s and o name the same server and trust the same CA.
func (s Service) Equal(o Service) bool {
	return s.APIService == o.APIService && s.Namespace == o.Namespace && s.Name == o.Name &&
		s.Port == o.Port && bytes.Equal(s.CABundle, o.CABundle)
}

// ServiceOf reads the service of an APIService object. It returns an error
// wrapping ErrNotDirect when the APIService cannot be reached directly.
func ServiceOf(obj *unstructured.Unstructured) (Service, error) {
	name := obj.GetName()
	svc, found, err := unstructured.NestedMap(obj.Object, "spec", "service")
	if err != nil {
		return Service{}, fmt.Errorf("APIService %s: spec.service: %w", name, err)
	}
	if !found || svc == nil {
		return Service{}, fmt.Errorf("APIService %s has no spec.service (kube-apiserver serves it): %w", name, ErrNotDirect)
	}
	if skip, _, _ := unstructured.NestedBool(obj.Object, "spec", "insecureSkipTLSVerify"); skip {
		return Service{}, fmt.Errorf("APIService %s sets spec.insecureSkipTLSVerify: its server cannot be verified: %w", name, ErrNotDirect)
	}
	s := Service{APIService: name, Port: 443}
	s.Namespace, _, _ = unstructured.NestedString(svc, "namespace")
	s.Name, _, _ = unstructured.NestedString(svc, "name")
	if port, found, err := unstructured.NestedInt64(svc, "port"); err != nil {
		return Service{}, fmt.Errorf("APIService %s: spec.service.port: %w", name, err)
	} else if found {
		s.Port = int32(port)
	}
	if s.Namespace == "" || s.Name == "" {
		return Service{}, fmt.Errorf("APIService %s: spec.service needs a namespace and a name, has %q/%q", name, s.Namespace, s.Name)
	}
	if s.Port < 1 || s.Port > 65535 {
		return Service{}, fmt.Errorf("APIService %s: spec.service.port %d is not a port", name, s.Port)
	}
	ca, _, _ := unstructured.NestedString(obj.Object, "spec", "caBundle")
	if ca == "" {
		return Service{}, fmt.Errorf("APIService %s has no spec.caBundle: its server cannot be verified: %w", name, ErrNotDirect)
	}
	// caBundle is []byte in the Go type: base64 in JSON.
	if s.CABundle, err = base64.StdEncoding.DecodeString(ca); err != nil {
		return Service{}, fmt.Errorf("APIService %s: spec.caBundle: %w", name, err)
	}
	return s, nil
}

// Address is where a connection to the service goes, host:port, as the
// aggregator resolves it.
func Address(svc *corev1.Service, port int32) (string, error) {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, "":
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
			return "", fmt.Errorf("Service %s/%s has no cluster IP (%q)", svc.Namespace, svc.Name, svc.Spec.ClusterIP)
		}
		for _, p := range svc.Spec.Ports {
			if p.Port == port {
				return net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port))), nil
			}
		}
		return "", fmt.Errorf("Service %s/%s has no port %d", svc.Namespace, svc.Name, port)
	case corev1.ServiceTypeExternalName:
		if svc.Spec.ExternalName == "" {
			return "", fmt.Errorf("Service %s/%s of type ExternalName has no spec.externalName", svc.Namespace, svc.Name)
		}
		return net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port))), nil
	default:
		return "", fmt.Errorf("Service %s/%s has type %q, which an APIService cannot route to", svc.Namespace, svc.Name, svc.Spec.Type)
	}
}

// Lookup reads the APIService name.
func Lookup(ctx context.Context, dyn dynamic.Interface, name string) (Service, error) {
	obj, err := dyn.Resource(APIServices).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Service{}, fmt.Errorf("APIService %s does not exist: %w", name, ErrNotDirect)
	}
	if err != nil {
		return Service{}, fmt.Errorf("reading APIService %s: %w", name, err)
	}
	return ServiceOf(obj)
}

// Resolver returns the address, host:port, that a new connection to an
// APIService's server goes to.
type Resolver func(ctx context.Context) (string, error)

// ServiceResolver resolves s's Service through kube on every call, as the
// aggregator resolves it.
func ServiceResolver(kube kubernetes.Interface, s Service) Resolver {
	return func(ctx context.Context) (string, error) {
		svc, err := kube.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("resolving APIService %s's Service %s/%s: %w", s.APIService, s.Namespace, s.Name, err)
		}
		addr, err := Address(svc, s.Port)
		if err != nil {
			return "", fmt.Errorf("resolving APIService %s: %w", s.APIService, err)
		}
		return addr, nil
	}
}

// Config returns a copy of base, the configuration that reaches
// kube-apiserver, that sends its requests straight to s's server with
// base's credentials: every new connection goes to the address resolve
// returns, and the server is verified against s's caBundle for
// s.ServerName().
func Config(base *rest.Config, s Service, resolve Resolver) *rest.Config {
	cfg := rest.CopyConfig(base)
	cfg.Host = "https://" + net.JoinHostPort(s.ServerName(), strconv.Itoa(int(s.Port)))
	cfg.APIPath = ""
	cfg.TLSClientConfig.Insecure = false
	cfg.TLSClientConfig.CAFile = ""
	cfg.TLSClientConfig.CAData = s.CABundle
	cfg.TLSClientConfig.ServerName = s.ServerName()
	// No proxy from the environment: the name is resolved through the
	// Service, not DNS.
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		addr, err := resolve(ctx)
		if err != nil {
			return nil, err
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return cfg
}

// WaitChanged reads the APIService s.APIService every interval until it
// differs from s (another service, port or caBundle, or no longer
// reachable directly) and returns what it is now; the error is then nil
// or wraps ErrNotDirect. Other errors reading it (kube-apiserver
// unavailable) are retried at the next interval. It returns ctx's error
// when ctx ends first.
func WaitChanged(ctx context.Context, dyn dynamic.Interface, s Service, interval time.Duration) (Service, error) {
	return waitChanged(ctx, func(ctx context.Context) (Service, error) { return Lookup(ctx, dyn, s.APIService) }, s, interval)
}

func waitChanged(ctx context.Context, lookup func(context.Context) (Service, error), s Service, interval time.Duration) (Service, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return Service{}, ctx.Err()
		case <-t.C:
		}
		now, err := lookup(ctx)
		switch {
		case errors.Is(err, ErrNotDirect):
			return Service{}, err
		case err != nil:
			continue
		case !now.Equal(s):
			return now, nil
		}
	}
}
