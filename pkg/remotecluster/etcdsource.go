package remotecluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// DefaultEtcdPrefix is where meshapi-apiserver keeps its objects in etcd
// (its --etcd-prefix default); the access Secret's "etcdPrefix" key
// overrides it.
const DefaultEtcdPrefix = "/registry/projectcalico.org"

// etcdSource reads a remote cluster's objects straight from the etcd of its
// meshapi-apiserver: datastoreType etcdv3. Keys are
// <prefix>/projectcalico.org/<resource>/[<namespace>/]<name>, values the
// objects in JSON.
type etcdSource struct {
	client  *clientv3.Client
	prefix  string
	decoder runtime.Decoder
}

// newEtcdSource connects to the etcd of an access, always over TLS and
// verifying the server against the access's CA.
func newEtcdSource(e *remoteaccess.EtcdAccess) (*etcdSource, error) {
	if err := remoteaccess.CheckEtcdAccess("the etcd access", e); err != nil {
		return nil, err
	}
	tlsCfg, err := etcdTLSConfig(e)
	if err != nil {
		return nil, err
	}
	cfg := clientv3.Config{Endpoints: e.Endpoints, Username: e.Username, Password: e.Password, DialTimeout: 5 * time.Second, TLS: tlsCfg}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", e.Endpoints, err)
	}
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		return nil, err
	}
	prefix := e.Prefix
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	return &etcdSource{client: client, prefix: strings.TrimSuffix(prefix, "/"), decoder: serializer.NewCodecFactory(scheme).UniversalDeserializer()}, nil
}

// etcdTLSConfig is the TLS configuration of an etcd access: its CA and,
// when set, its client certificate.
func etcdTLSConfig(e *remoteaccess.EtcdAccess) (*tls.Config, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(e.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(e.CertPEM, e.KeyPEM)
		if err != nil {
			return nil, remoteaccess.ConfigErrorf("EtcdCertificateInvalid", "etcdCert/etcdKey: %v", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CACertPEM) {
		return nil, remoteaccess.ConfigErrorf("EtcdCertificateInvalid", "etcdCACert holds no PEM certificate")
	}
	tlsCfg.RootCAs = pool
	return tlsCfg, nil
}

// close closes the etcd client.
func (s *etcdSource) close() error { return s.client.Close() }

// noWatchList marks a ListWatch whose watch cannot stream the initial list:
// the reflector then lists and watches.
type noWatchList struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells the reflector not to use watch-list.
func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }

// listWatch lists and watches one kind's own objects under its key prefix.
func (s *etcdSource) listWatch(resource string, newList func() runtime.Object, keep func(runtime.Object) bool) *cache.ListWatch {
	keyPrefix := s.prefix + "/" + v3.GroupName + "/" + resource + "/"
	decode := func(value []byte, rev int64) (runtime.Object, error) {
		obj, _, err := s.decoder.Decode(value, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding %s from etcd: %w", resource, err)
		}
		if acc, err := meta.Accessor(obj); err == nil {
			acc.SetResourceVersion(strconv.FormatInt(rev, 10))
		}
		return obj, nil
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, _ metav1.ListOptions) (runtime.Object, error) {
			resp, err := s.client.Get(ctx, keyPrefix, clientv3.WithPrefix())
			if err != nil {
				return nil, err
			}
			var items []runtime.Object
			for _, kv := range resp.Kvs {
				obj, err := decode(kv.Value, kv.ModRevision)
				if err != nil {
					return nil, err
				}
				if keep(obj) {
					items = append(items, obj)
				}
			}
			list := newList()
			if err := meta.SetList(list, items); err != nil {
				return nil, err
			}
			if acc, err := meta.ListAccessor(list); err == nil {
				acc.SetResourceVersion(strconv.FormatInt(resp.Header.Revision, 10))
			}
			return list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			rev, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("watching etcd needs a resourceVersion, not %q", opts.ResourceVersion))
			}
			ctx, cancel := context.WithCancel(ctx)
			w := &etcdWatch{ch: make(chan watch.Event, 100), cancel: cancel}
			wch := s.client.Watch(clientv3.WithRequireLeader(ctx), keyPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV())
			go w.run(ctx, wch, decode, keep)
			return w, nil
		},
	}
}

// etcdWatch turns etcd watch events into Kubernetes watch events.
type etcdWatch struct {
	ch     chan watch.Event
	cancel context.CancelFunc
}

func (w *etcdWatch) Stop()                          { w.cancel() }
func (w *etcdWatch) ResultChan() <-chan watch.Event { return w.ch }

func (w *etcdWatch) run(ctx context.Context, wch clientv3.WatchChan, decode func([]byte, int64) (runtime.Object, error), keep func(runtime.Object) bool) {
	defer close(w.ch)
	send := func(ev watch.Event) bool {
		select {
		case w.ch <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		status := apierrors.NewInternalError(err).ErrStatus
		if strings.Contains(err.Error(), "compacted") {
			status = apierrors.NewResourceExpired(err.Error()).ErrStatus
		}
		send(watch.Event{Type: watch.Error, Object: &status})
	}
	for resp := range wch {
		if err := resp.Err(); err != nil {
			fail(err)
			return
		}
		for _, ev := range resp.Events {
			var cur, prev runtime.Object
			var err error
			if ev.Type == clientv3.EventTypePut {
				if cur, err = decode(ev.Kv.Value, ev.Kv.ModRevision); err != nil {
					fail(err)
					return
				}
				if !keep(cur) {
					cur = nil
				}
			}
			if ev.PrevKv != nil {
				if prev, err = decode(ev.PrevKv.Value, ev.Kv.ModRevision); err != nil {
					fail(err)
					return
				}
				if !keep(prev) {
					prev = nil
				}
			}
			var out watch.Event
			switch {
			case cur != nil && prev != nil:
				out = watch.Event{Type: watch.Modified, Object: cur}
			case cur != nil:
				out = watch.Event{Type: watch.Added, Object: cur}
			case prev != nil:
				out = watch.Event{Type: watch.Deleted, Object: prev}
			default:
				continue
			}
			if !send(out) {
				return
			}
		}
	}
}
