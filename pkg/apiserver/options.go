package apiserver

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating"
	validatingadmissionpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	mutatingwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	validatingwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	basecompatibility "k8s.io/component-base/compatibility"
	baseversion "k8s.io/component-base/version"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/meshapi/meshapi/pkg/admission/bgppeering"
	"github.com/meshapi/meshapi/pkg/admission/meshrequirements"
	"github.com/meshapi/meshapi/pkg/admission/mirror"
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/collectionauthz"
	"github.com/meshapi/meshapi/pkg/embeddedetcd"
	"github.com/meshapi/meshapi/pkg/frontproxyauth"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	generatedopenapi "github.com/meshapi/meshapi/pkg/generated/openapi"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/remoteclusterconfiguration"
)

// etcdPathPrefix is where meshapi keeps its objects in etcd.
const etcdPathPrefix = "/registry/projectcalico.org"

// DefaultSecurePort is the HTTPS port served when --secure-port is not given.
const DefaultSecurePort = 8443

// Options are the flags of meshapi-apiserver.
type Options struct {
	// Recommended are the generic API server's options: serving, etcd,
	// delegated authentication and authorization, admission, audit.
	Recommended *genericoptions.RecommendedOptions
	// Versions holds the effective version and feature gates.
	Versions basecompatibility.ComponentGlobalsRegistry

	// DataDir holds the embedded etcd's data, generated certificates and,
	// in standalone mode, the token and kubeconfig.
	DataDir string
	// Standalone serves without a Kubernetes cluster: bearer-token
	// authentication, every authenticated request authorized.
	Standalone bool
	// KubeconfigOut is where standalone mode writes a kubeconfig for kubectl.
	KubeconfigOut string
	// AlternateDNS are extra names for the self-signed serving certificate.
	AlternateDNS []string
	// MirrorWriters are the user names allowed to write objects mirrored
	// from remote clusters (meshapi-controller's identity).
	MirrorWriters []string
	// AllowInlineRemoteCredentials admits RemoteClusterConfigurations with
	// inline credentials (k8sAPIToken, kubeconfigInline, etcdPassword) and
	// files on the controller's host (kubeconfig, k8sCAFile,
	// etcdCACertFile). Off by default: use spec.clusterAccessSecret.
	AllowInlineRemoteCredentials bool
	// ShutdownWatchTerminationGracePeriod bounds how long a graceful
	// shutdown waits for the watches it ends; 0 leaves them open until
	// the HTTP server's shutdown times out (60s).
	ShutdownWatchTerminationGracePeriod time.Duration

	scheme *runtime.Scheme
	codecs serializer.CodecFactory
}

// DefaultShutdownWatchTerminationGracePeriod is the default of
// --shutdown-watch-termination-grace-period: every agent and controller
// holds watches, and without it a shutdown waits the HTTP server's whole
// 60s shutdown timeout for them (longer than a pod's default 30s grace
// before SIGKILL).
const DefaultShutdownWatchTerminationGracePeriod = 5 * time.Second

// NewOptions returns the default options: loopback only, embedded etcd
// when --etcd-servers is not given.
func NewOptions() *Options {
	scheme, codecs := NewScheme()
	o := &Options{
		Recommended:                         genericoptions.NewRecommendedOptions(etcdPathPrefix, codecs.LegacyCodec(v3.SchemeGroupVersion)),
		Versions:                            basecompatibility.NewComponentGlobalsRegistry(),
		DataDir:                             "meshapi-data",
		MirrorWriters:                       mirror.DefaultWriters(),
		ShutdownWatchTerminationGracePeriod: DefaultShutdownWatchTerminationGracePeriod,
		scheme:                              scheme,
		codecs:                              codecs,
	}
	// The upstream plugins, with NamespaceLifecycle replaced by one that
	// admits mirrored objects whose namespace exists only in their own
	// cluster, and the mirror protection last.
	admissionOpts := o.Recommended.Admission
	admissionOpts.Plugins = admission.NewPlugins()
	mirror.Register(admissionOpts.Plugins, func() []string { return o.MirrorWriters })
	mutating.Register(admissionOpts.Plugins)
	mutatingwebhook.Register(admissionOpts.Plugins)
	validatingadmissionpolicy.Register(admissionOpts.Plugins)
	validatingwebhook.Register(admissionOpts.Plugins)
	meshrequirements.Register(admissionOpts.Plugins)
	bgppeering.Register(admissionOpts.Plugins)
	admissionOpts.RecommendedPluginOrder = append(admissionOpts.RecommendedPluginOrder, mirror.ProtectionPluginName, meshrequirements.PluginName, bgppeering.PluginName)
	o.Recommended.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(v3.SchemeGroupVersion, schema.GroupKind{Group: v3.GroupName})
	o.Recommended.SecureServing.BindAddress = netutils.ParseIPSloppy("127.0.0.1")
	o.Recommended.SecureServing.BindPort = DefaultSecurePort
	o.Recommended.Etcd.StorageConfig.Transport.ServerList = nil
	// Removing a remote cluster's mirror is one deletecollection per
	// namespace of up to tens of thousands of objects; upstream's default of
	// one worker deletes them one after the other.
	o.Recommended.Etcd.DeleteCollectionWorkers = 8
	_, _ = o.Versions.ComponentGlobalsOrRegister(basecompatibility.DefaultKubeComponent,
		basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", ""),
		utilfeature.DefaultMutableFeatureGate)
	return o
}

// AddFlags registers the options' flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Recommended.AddFlags(fs)
	o.Versions.AddFlags(fs)
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir,
		"Directory for the embedded etcd's data (used when --etcd-servers is not given), generated serving certificates and standalone credentials.")
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone,
		"Serve without a Kubernetes cluster: authenticate with a generated bearer token, authorize it fully, and write a kubeconfig to --kubeconfig-out. For trying meshapi on a laptop; in a cluster, run behind kube-apiserver with delegated authentication instead.")
	fs.StringVar(&o.KubeconfigOut, "kubeconfig-out", o.KubeconfigOut,
		"Where --standalone writes the kubeconfig for kubectl (default <data-dir>/kubeconfig).")
	fs.StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS,
		"Extra DNS names for the generated self-signed serving certificate.")
	fs.StringSliceVar(&o.MirrorWriters, "mirror-writers", o.MirrorWriters,
		"User names allowed to write objects mirrored from remote clusters (label projectcalico.org/cluster): meshapi-controller's identity. Everyone else gets 403. They may write nothing else but the status of RemoteClusterConfigurations, and are the only users that read inline credentials of RemoteClusterConfigurations back. Their requests on one named object are authorized for the whole collection first (one cached SubjectAccessReview for all their mirrors of a kind in a namespace), then, if that is not allowed, for the object.")
	fs.BoolVar(&o.AllowInlineRemoteCredentials, "allow-inline-remote-credentials", o.AllowInlineRemoteCredentials,
		"Admit RemoteClusterConfigurations that hold credentials inline (spec.k8sAPIToken, spec.kubeconfigInline, spec.etcdPassword) or name files on meshapi-controller's host (spec.kubeconfig, spec.k8sCAFile, spec.etcdCACertFile). Off by default: put the connection in a Secret named by spec.clusterAccessSecret. Even when on, inline credentials are returned only to --mirror-writers; client key files, k8sInsecureSkipTLSVerify and http:// endpoints are always refused.")
	fs.DurationVar(&o.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.ShutdownWatchTerminationGracePeriod,
		"On a graceful shutdown, end the open watches (their clients re-list and watch again, from another replica or once this one is back) and wait at most this long for them to end. 0 leaves the watches open until the HTTP server's 60s shutdown timeout.")
}

// Complete fills defaults that depend on other flags.
func (o *Options) Complete() error {
	if err := o.Versions.Set(); err != nil {
		return fmt.Errorf("setting the effective version and feature gates: %w", err)
	}
	if o.KubeconfigOut == "" {
		o.KubeconfigOut = filepath.Join(o.DataDir, "kubeconfig")
	}
	if o.Recommended.SecureServing.ServerCert.CertDirectory == "" || o.Recommended.SecureServing.ServerCert.CertDirectory == "apiserver.local.config/certificates" {
		o.Recommended.SecureServing.ServerCert.CertDirectory = filepath.Join(o.DataDir, "certificates")
	}
	if o.Standalone {
		// Nothing to delegate to: no kube-apiserver for authentication,
		// authorization, namespaces, webhooks or flow control.
		o.Recommended.Authentication = nil
		o.Recommended.Authorization = nil
		o.Recommended.CoreAPI = nil
		o.Recommended.Admission = nil
		o.Recommended.Features.EnablePriorityAndFairness = false
	}
	return nil
}

// Validate checks the options.
func (o *Options) Validate() error {
	// The embedded etcd's URL is known only once it runs; stand in for it
	// so that the generic etcd options do not demand --etcd-servers.
	if o.usesEmbeddedEtcd() {
		o.Recommended.Etcd.StorageConfig.Transport.ServerList = []string{"http://embedded-etcd"}
		defer func() { o.Recommended.Etcd.StorageConfig.Transport.ServerList = nil }()
	}
	errs := o.Recommended.Validate()
	errs = append(errs, o.Versions.Validate()...)
	if o.DataDir == "" {
		errs = append(errs, fmt.Errorf("--data-dir must not be empty"))
	}
	if o.ShutdownWatchTerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-watch-termination-grace-period %s must not be negative", o.ShutdownWatchTerminationGracePeriod))
	}
	return utilerrors.NewAggregate(errs)
}

// usesEmbeddedEtcd reports whether no external etcd was configured.
func (o *Options) usesEmbeddedEtcd() bool {
	return len(o.Recommended.Etcd.StorageConfig.Transport.ServerList) == 0
}

// Run starts the embedded etcd if needed, then serves until ctx ends, then
// stops etcd.
func (o *Options) Run(ctx context.Context) error {
	if o.usesEmbeddedEtcd() {
		dir, logFile := filepath.Join(o.DataDir, "etcd"), filepath.Join(o.DataDir, "etcd.log")
		klog.InfoS("Starting embedded etcd", "dataDir", dir, "log", logFile)
		etcd, err := embeddedetcd.Start(ctx, dir, logFile)
		if err != nil {
			return err
		}
		defer func() {
			klog.InfoS("Stopping embedded etcd")
			etcd.Stop()
		}()
		o.Recommended.Etcd.StorageConfig.Transport.ServerList = []string{etcd.ClientURL}
		go func() {
			select {
			case err := <-etcd.Err():
				if err != nil {
					klog.ErrorS(err, "Embedded etcd failed")
				}
			case <-ctx.Done():
			}
		}()
	}
	config, err := o.Config()
	if err != nil {
		return err
	}
	server, err := config.Complete().New()
	if err != nil {
		return err
	}
	if err := server.GenericAPIServer.AddReadyzChecks(authenticationReadyChecks(config)...); err != nil {
		return fmt.Errorf("adding readiness checks: %w", err)
	}
	if o.Standalone {
		if err := o.writeStandaloneKubeconfig(); err != nil {
			return err
		}
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// Config builds the server configuration from the options.
func (o *Options) Config() (*Config, error) {
	alternateIPs := []net.IP{netutils.ParseIPSloppy("127.0.0.1")}
	if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS, alternateIPs); err != nil {
		return nil, fmt.Errorf("creating self-signed serving certificates: %w", err)
	}
	serverConfig := genericapiserver.NewRecommendedConfig(o.codecs)
	namer := openapi.NewDefinitionNamer(o.scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIConfig.Info.Title = "meshapi"
	serverConfig.OpenAPIConfig.Info.Version = v3.SchemeGroupVersion.Version
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "meshapi"
	serverConfig.OpenAPIV3Config.Info.Version = v3.SchemeGroupVersion.Version
	serverConfig.FeatureGate = o.Versions.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	serverConfig.EffectiveVersion = o.Versions.EffectiveVersionFor(basecompatibility.DefaultKubeComponent)

	// Admission reads the server's own API through informers on its
	// loopback client, started once the server runs.
	var meshInformers informers.SharedInformerFactory
	newMeshInformers := func(c *genericapiserver.RecommendedConfig) (informers.SharedInformerFactory, error) {
		client, err := versioned.NewForConfig(c.LoopbackClientConfig)
		if err != nil {
			return nil, fmt.Errorf("building the loopback client for admission: %w", err)
		}
		meshInformers = informers.NewSharedInformerFactory(client, 0)
		return meshInformers, nil
	}
	o.Recommended.ExtraAdmissionInitializers = func(c *genericapiserver.RecommendedConfig) ([]admission.PluginInitializer, error) {
		f, err := newMeshInformers(c)
		if err != nil {
			return nil, err
		}
		return []admission.PluginInitializer{meshrequirements.Initializer{Informers: f}}, nil
	}
	if err := o.Recommended.ApplyTo(serverConfig); err != nil {
		return nil, fmt.Errorf("applying options: %w", err)
	}
	serverConfig.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchTerminationGracePeriod
	if a := &serverConfig.Authentication; a.Authenticator != nil && a.RequestHeaderConfig != nil {
		// Requests proxied by kube-apiserver's aggregator: the front
		// proxy's certificate chain is verified once, not per request.
		a.Authenticator = frontproxyauth.New(a.Authenticator, a.RequestHeaderConfig)
	}
	if serverConfig.Authorization.Authorizer != nil && len(o.MirrorWriters) > 0 {
		// The controller writes mirrors of every name: one cached
		// SubjectAccessReview per collection, not one per mirror.
		serverConfig.Authorization.Authorizer = collectionauthz.New(serverConfig.Authorization.Authorizer, o.MirrorWriters)
	}
	if o.Standalone {
		if err := o.applyStandaloneAuth(serverConfig); err != nil {
			return nil, err
		}
		// No kube-apiserver to run the upstream admission plugins against:
		// the mirror protection and the mesh's requirements only (remote
		// clusters without a mirror cannot be read: there are no Secrets).
		f, err := newMeshInformers(serverConfig)
		if err != nil {
			return nil, err
		}
		requirements := meshrequirements.New()
		requirements.SetMeshInformers(f)
		peeringConflicts := bgppeering.New()
		peeringConflicts.SetMeshInformers(f)
		serverConfig.AdmissionControl = admission.NewChainHandler(mirror.NewProtection(o.MirrorWriters), requirements, peeringConflicts)
	}
	creds := remoteclusterconfiguration.CredentialPolicy{AllowInline: o.AllowInlineRemoteCredentials, Readers: o.MirrorWriters}
	return &Config{GenericConfig: serverConfig, Scheme: o.scheme, Codecs: o.codecs, MeshInformers: meshInformers, Credentials: creds}, nil
}
