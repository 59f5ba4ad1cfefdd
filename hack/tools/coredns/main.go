// Command coredns is CoreDNS v1.15.0 (github.com/coredns/coredns, pinned in
// go.mod) with the plugins a Kubernetes cluster's DNS uses, built from
// source by hack/build-tools.sh into bin/coredns and the
// registry.k8s.io/coredns/coredns image of the e2e clusters' real nodes.
//
// It is CoreDNS's own main (coremain.Run) with a shorter plugin list, the
// way CoreDNS documents compile-time plugin selection: the plugins of the
// Corefile kubeadm and the upstream addon manifests deploy (errors, health,
// ready, kubernetes, prometheus, forward, cache, loop, reload, loadbalance)
// and the ones commonly added to it (log, hosts, rewrite, template,
// k8s_external, autopath, ...). The cloud back ends (route53, azure,
// clouddns), etcd, nomad, dnstap, DNSSEC signing and the QUIC/gRPC/HTTPS
// transports are left out: they add most of the build time and no test uses
// them. Directives keep upstream's execution order (zdirectives.go).
//
// clusterset.local (Multi-Cluster Services, KEP-1645) needs no plugin of
// its own: the kubernetes plugin's `multicluster` option (CoreDNS >=
// 1.12.2) answers it from ServiceImports and the EndpointSlices labelled
// multicluster.kubernetes.io/service-name (artifacts/mcs/coredns-*.yaml,
// test/e2e TestClustersetDNS). The older external plugin
// github.com/coredns/multicluster is not linked in.
package main

import (
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/caddy/onevent"
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/any"
	_ "github.com/coredns/coredns/plugin/autopath"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/cancel"
	_ "github.com/coredns/coredns/plugin/chaos"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/header"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/k8s_external"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/minimal"
	_ "github.com/coredns/coredns/plugin/nsid"
	_ "github.com/coredns/coredns/plugin/pprof"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/root"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/timeouts"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// plugins are the directives this build registers (Corefile names; the
// metrics package registers "prometheus", caddy's onevent "on").
var plugins = []string{
	"acl", "any", "autopath", "bind", "bufsize", "cache", "cancel", "chaos",
	"debug", "errors", "file", "forward", "header", "health", "hosts",
	"k8s_external", "kubernetes", "loadbalance", "log", "loop", "metadata",
	"prometheus", "minimal", "nsid", "pprof", "ready", "reload", "rewrite",
	"root", "template", "timeouts", "whoami", "on",
	// Linked in by forward and kubernetes.
	"dnstap", "transfer",
}

func init() {
	// Keep upstream's order, drop the directives of plugins not built in,
	// so that a Corefile naming one fails with "unknown directive".
	dnsserver.Directives = slices.DeleteFunc(dnsserver.Directives, func(d string) bool {
		return !slices.Contains(plugins, d)
	})
}

func main() {
	coremain.Run()
}
