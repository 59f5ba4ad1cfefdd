package controllermanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/meshapi/meshapi/pkg/apiservicedirect"
)

// errAPIServiceChanged is the cause Run ends with when the APIService the
// controller reaches directly changed: the process exits to be restarted
// with the new one.
var errAPIServiceChanged = errors.New("restart needed")

const (
	// directProbeTimeout is how long the direct server may take to answer
	// the first discovery request before the controller goes through
	// kube-apiserver instead. It runs before /healthz is served, so it
	// stays well inside a liveness probe's default 30 s.
	directProbeTimeout = 15 * time.Second
)

// projectcalicoConfig returns the configuration of the controller's
// projectcalico.org client: straight to the server behind
// --direct-apiservice when it can be reached, otherwise base, through
// kube-apiserver. When it goes direct, it watches the APIService and
// stops ctx with errAPIServiceChanged when it changes.
func (o *Options) projectcalicoConfig(ctx context.Context, base *rest.Config, kube kubernetes.Interface, dyn dynamic.Interface, stop context.CancelCauseFunc) *rest.Config {
	logger := klog.FromContext(ctx)
	if o.DirectAPIService == "" {
		logger.Info("Reaching projectcalico.org through kube-apiserver", "reason", "--direct-apiservice is empty")
		return base
	}
	svc, err := apiservicedirect.Lookup(ctx, dyn, o.DirectAPIService)
	if err != nil {
		logger.Info("Reaching projectcalico.org through kube-apiserver", "reason", err.Error())
		return base
	}
	cfg := apiservicedirect.Config(base, svc, apiservicedirect.ServiceResolver(kube, svc))
	if err := probe(ctx, cfg, svc.APIService); err != nil {
		logger.Info("Reaching projectcalico.org through kube-apiserver", "reason", err.Error())
		return base
	}
	logger.Info("Reaching projectcalico.org directly", "apiService", svc.APIService, "service", svc.Namespace+"/"+svc.Name, "port", svc.Port, "serverName", svc.ServerName())
	go func() {
		now, err := apiservicedirect.WaitChanged(ctx, dyn, svc, o.DirectRecheckPeriod)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			stop(fmt.Errorf("%w: APIService %s can no longer be reached directly: %w", errAPIServiceChanged, svc.APIService, err))
			return
		}
		stop(fmt.Errorf("%w: APIService %s changed: service %s/%s port %d, caBundle of %d bytes",
			errAPIServiceChanged, svc.APIService, now.Namespace, now.Name, now.Port, len(now.CABundle)))
	}()
	return cfg
}

// probe asks the direct server for its API group's resources until it
// answers or directProbeTimeout passes: the server may still be starting.
func probe(ctx context.Context, cfg *rest.Config, apiService string) error {
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("APIService %s directly: %w", apiService, err)
	}
	// v3.projectcalico.org serves projectcalico.org/v3.
	groupVersion := apiServiceGroupVersion(apiService)
	deadline := time.Now().Add(directProbeTimeout)
	for {
		_, err = client.ServerResourcesForGroupVersion(groupVersion)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("APIService %s's server did not answer directly within %s: %w", apiService, directProbeTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// apiServiceGroupVersion is the group/version an APIService's name
// (<version>.<group>) stands for.
func apiServiceGroupVersion(name string) string {
	if version, group, ok := strings.Cut(name, "."); ok {
		return group + "/" + version
	}
	return name
}

// restartCause is Run's error: the reason the APIService's change ended
// it, or nil when it ended because it was told to stop.
func restartCause(ctx context.Context) error {
	if err := context.Cause(ctx); errors.Is(err, errAPIServiceChanged) {
		return err
	}
	return nil
}
