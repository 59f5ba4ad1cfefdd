package validation

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// secretConflictMsg is reported on each connection field set beside
// clusterAccessSecret.
const secretConflictMsg = "when clusterAccessSecret is set, no other datastore connection field may be set"

// credentialKind says how a connection field exposes a credential, and so
// when validation admits it outside clusterAccessSecret.
type credentialKind int

const (
	// plainField holds no credential: an endpoint, a user name.
	plainField credentialKind = iota
	// inlineSecret holds a secret in the object itself, readable by anyone
	// who may read the object: admitted only with AllowInlineCredentials.
	inlineSecret
	// hostFile names a file on meshapi-controller's host that sets trust
	// or the whole connection: admitted only with AllowInlineCredentials.
	hostFile
	// hostKeyFile names a client certificate or key on meshapi-controller's
	// host, which it would present to whatever server the object names:
	// never admitted.
	hostKeyFile
	// insecureFlag turns off server certificate verification: never
	// admitted.
	insecureFlag
)

// connField is an inline connection field of a RemoteClusterConfiguration
// spec: its JSON name, whether it is set, and what credential it carries.
type connField struct {
	name string
	set  bool
	kind credentialKind
}

// etcdFields lists the inline etcd connection fields.
func etcdFields(s *v3.RemoteClusterConfigurationSpec) []connField {
	return []connField{
		{"etcdEndpoints", s.EtcdEndpoints != "", plainField},
		{"etcdUsername", s.EtcdUsername != "", plainField},
		{"etcdPassword", s.EtcdPassword != "", inlineSecret},
		{"etcdKeyFile", s.EtcdKeyFile != "", hostKeyFile},
		{"etcdCertFile", s.EtcdCertFile != "", hostKeyFile},
		{"etcdCACertFile", s.EtcdCACertFile != "", hostFile},
	}
}

// kubeFields lists the inline Kubernetes connection fields.
func kubeFields(s *v3.RemoteClusterConfigurationSpec) []connField {
	return []connField{
		{"kubeconfig", s.Kubeconfig != "", hostFile},
		{"k8sAPIEndpoint", s.K8sAPIEndpoint != "", plainField},
		{"k8sKeyFile", s.K8sKeyFile != "", hostKeyFile},
		{"k8sCertFile", s.K8sCertFile != "", hostKeyFile},
		{"k8sCAFile", s.K8sCAFile != "", hostFile},
		{"k8sAPIToken", s.K8sAPIToken != "", inlineSecret},
		{"k8sInsecureSkipTLSVerify", s.K8sInsecureSkipTLSVerify, insecureFlag},
		{"kubeconfigInline", s.KubeconfigInline != "", inlineSecret},
	}
}

// RemoteClusterOptions are the server-wide choices that validation of a
// RemoteClusterConfiguration depends on.
type RemoteClusterOptions struct {
	// AllowInlineCredentials admits inline secrets (k8sAPIToken,
	// kubeconfigInline, etcdPassword) and files on the controller's host
	// (kubeconfig, k8sCAFile, etcdCACertFile): meshapi-apiserver's
	// --allow-inline-remote-credentials. Client key files and
	// k8sInsecureSkipTLSVerify are refused regardless.
	AllowInlineCredentials bool
}

// Messages of the credential refusals; each says how to fix it.
const (
	useSecretHint   = "put the connection in a Secret and reference it with spec.clusterAccessSecret instead"
	inlineSecretMsg = "an inline credential is readable by everyone who may read RemoteClusterConfigurations (remote clusters and nodes included): " +
		useSecretHint + " (or run meshapi-apiserver with --allow-inline-remote-credentials)"
	hostFileMsg = "names a file on meshapi-controller's host, chosen by whoever writes this object: " +
		useSecretHint + ", with the CA embedded (or run meshapi-apiserver with --allow-inline-remote-credentials)"
	hostKeyFileMsg = "would make meshapi-controller present a key from its own host to whatever server this object names: " +
		"embed client-certificate-data and client-key-data in the access Secret's kubeconfig (etcdCert and etcdKey for etcdv3) and reference it with spec.clusterAccessSecret"
	insecureMsg = "turns off verification of the remote server's certificate, so anyone on the path can read the credentials: " +
		"give the remote CA instead (certificate-authority-data in the access Secret's kubeconfig)"
	plainHTTPMsg = "plain http:// sends the credentials and every synced object in clear: use https:// (with the remote's CA in the access Secret)"
)

// validateCredentials refuses the set fields whose credential kind opts
// does not admit.
func validateCredentials(specPath *field.Path, fields []connField, opts RemoteClusterOptions) field.ErrorList {
	var errs field.ErrorList
	for _, f := range fields {
		if !f.set {
			continue
		}
		msg := ""
		switch f.kind {
		case inlineSecret:
			if !opts.AllowInlineCredentials {
				msg = inlineSecretMsg
			}
		case hostFile:
			if !opts.AllowInlineCredentials {
				msg = hostFileMsg
			}
		case hostKeyFile:
			msg = hostKeyFileMsg
		case insecureFlag:
			msg = insecureMsg
		}
		if msg != "" {
			errs = append(errs, field.Forbidden(specPath.Child(f.name), msg))
		}
	}
	return errs
}

// forbidSet reports a field.Forbidden with msg for every set field.
func forbidSet(specPath *field.Path, fields []connField, msg string) field.ErrorList {
	var errs field.ErrorList
	for _, f := range fields {
		if f.set {
			errs = append(errs, field.Forbidden(specPath.Child(f.name), msg))
		}
	}
	return errs
}

// ValidateRemoteClusterConfiguration validates a RemoteClusterConfiguration's
// name and spec (not its status; see
// ValidateRemoteClusterConfigurationStatus). The name must be a DNS-1123
// label, since it prefixes mirrored object names and is a label value. The
// connection is either a clusterAccessSecret reference alone, or
// datastoreType with the matching inline fields: kubeconfig,
// kubeconfigInline or k8sAPIEndpoint for "kubernetes", etcdEndpoints for
// "etcdv3". Inline credentials and files on the controller's host need
// opts.AllowInlineCredentials; client key files,
// k8sInsecureSkipTLSVerify and http:// endpoints are always refused, and
// an inline etcdv3 connection needs a CA. syncOptions.overlayRoutingMode
// is "", Enabled or Disabled.
func ValidateRemoteClusterConfiguration(rcc *v3.RemoteClusterConfiguration, opts RemoteClusterOptions) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateRemoteClusterName(field.NewPath("metadata", "name"), rcc.Name)...)

	specPath := field.NewPath("spec")
	spec := &rcc.Spec
	if ref := spec.ClusterAccessSecret; ref != nil {
		all := append([]connField{{"datastoreType", spec.DatastoreType != "", plainField}}, etcdFields(spec)...)
		all = append(all, kubeFields(spec)...)
		errs = append(errs, forbidSet(specPath, all, secretConflictMsg)...)

		refPath := specPath.Child("clusterAccessSecret")
		if ref.Name == "" {
			errs = append(errs, field.Required(refPath.Child("name"), "the name of the Secret holding the connection is required"))
		} else {
			for _, msg := range utilvalidation.IsDNS1123Subdomain(ref.Name) {
				errs = append(errs, field.Invalid(refPath.Child("name"), ref.Name, msg))
			}
		}
		if ref.Namespace == "" {
			errs = append(errs, field.Required(refPath.Child("namespace"), "the namespace of the Secret is required"))
		} else {
			for _, msg := range utilvalidation.IsDNS1123Label(ref.Namespace) {
				errs = append(errs, field.Invalid(refPath.Child("namespace"), ref.Namespace, msg))
			}
		}
		if ref.Kind != "" && ref.Kind != "Secret" {
			errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"Secret"}))
		}
	} else {
		errs = append(errs, validateInlineConnection(specPath, spec, opts)...)
	}

	switch m := spec.SyncOptions.OverlayRoutingMode; m {
	case "", v3.OverlayRoutingModeEnabled, v3.OverlayRoutingModeDisabled:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("syncOptions", "overlayRoutingMode"), m,
			[]v3.OverlayRoutingMode{v3.OverlayRoutingModeEnabled, v3.OverlayRoutingModeDisabled}))
	}
	if ttl := spec.SyncOptions.DisconnectedTTL; ttl != nil && ttl.Duration < MinDisconnectedTTL {
		errs = append(errs, field.Invalid(specPath.Child("syncOptions", "disconnectedTTL"), ttl.Duration.String(),
			"must be at least "+MinDisconnectedTTL.String()+": a shorter one would remove a remote cluster's state on every brief outage"))
	}
	return errs
}

// MinDisconnectedTTL is the shortest spec.syncOptions.disconnectedTTL.
const MinDisconnectedTTL = 10 * time.Second

// validateRemoteClusterName checks that name is a DNS-1123 label.
func validateRemoteClusterName(fldPath *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if msgs := utilvalidation.IsDNS1123Label(name); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(fldPath, name,
			`must be a DNS-1123 label, because it becomes the prefix "<name>/" of mirrored object names and the value of the `+
				v3.LabelCluster+" label: "+strings.Join(msgs, "; "))}
	}
	return nil
}

// validateInlineConnection validates a connection given without
// clusterAccessSecret.
func validateInlineConnection(specPath *field.Path, spec *v3.RemoteClusterConfigurationSpec, opts RemoteClusterOptions) field.ErrorList {
	var errs field.ErrorList
	checkEtcdFormat, checkK8sFormat := true, true

	switch spec.DatastoreType {
	case "":
		errs = append(errs, field.Required(specPath.Child("datastoreType"),
			`"kubernetes" or "etcdv3" is required when clusterAccessSecret is not set`))
	case v3.DatastoreTypeKubernetes:
		errs = append(errs, forbidSet(specPath, etcdFields(spec), `etcd connection fields may not be set when datastoreType is "kubernetes"`)...)
		checkEtcdFormat = false
		if spec.Kubeconfig == "" && spec.KubeconfigInline == "" && spec.K8sAPIEndpoint == "" {
			errs = append(errs, field.Required(specPath,
				`one of kubeconfig, kubeconfigInline or k8sAPIEndpoint is required when datastoreType is "kubernetes" (or use clusterAccessSecret)`))
		}
	case v3.DatastoreTypeEtcdV3:
		errs = append(errs, forbidSet(specPath, kubeFields(spec), `Kubernetes connection fields may not be set when datastoreType is "etcdv3"`)...)
		checkK8sFormat = false
		if spec.EtcdEndpoints == "" {
			errs = append(errs, field.Required(specPath.Child("etcdEndpoints"), `required when datastoreType is "etcdv3"`))
		}
	default:
		errs = append(errs, field.NotSupported(specPath.Child("datastoreType"), spec.DatastoreType,
			[]v3.DatastoreType{v3.DatastoreTypeKubernetes, v3.DatastoreTypeEtcdV3}))
	}

	if checkEtcdFormat {
		errs = append(errs, validateCredentials(specPath, etcdFields(spec), opts)...)
		errs = append(errs, validateEtcdEndpoints(specPath.Child("etcdEndpoints"), spec.EtcdEndpoints)...)
		if spec.DatastoreType == v3.DatastoreTypeEtcdV3 && spec.EtcdCACertFile == "" {
			errs = append(errs, field.Required(specPath.Child("etcdCACertFile"),
				"etcdv3 remotes are reached over TLS only and need the CA of their etcd: "+useSecretHint+" (key etcdCACert)"))
		}
	}
	if checkK8sFormat {
		errs = append(errs, validateCredentials(specPath, kubeFields(spec), opts)...)
		if spec.K8sAPIEndpoint != "" {
			if problem, shown := httpURLProblem(spec.K8sAPIEndpoint); problem != "" {
				errs = append(errs, field.Invalid(specPath.Child("k8sAPIEndpoint"), shown, problem))
			} else if isPlainHTTP(spec.K8sAPIEndpoint) {
				errs = append(errs, field.Invalid(specPath.Child("k8sAPIEndpoint"), shown, plainHTTPMsg))
			}
		}
	}
	return errs
}

// validateEtcdEndpoints checks a comma-separated list of https:// etcd URLs.
func validateEtcdEndpoints(p *field.Path, endpoints string) field.ErrorList {
	if endpoints == "" {
		return nil
	}
	var errs field.ErrorList
	elems := strings.Split(endpoints, ",")
	for i, e := range elems {
		problem, shown := httpURLProblem(e)
		switch {
		case problem == "" && isPlainHTTP(e):
			problem = plainHTTPMsg
		case problem == "":
			continue
		case e == "":
			problem = "must not be empty"
		case strings.TrimSpace(e) != e:
			problem = "must not have spaces around it"
		}
		errs = append(errs, field.Invalid(p, shown,
			fmt.Sprintf("endpoint %d of %d in the comma-separated list %s", i+1, len(elems), problem)))
	}
	return errs
}

// isPlainHTTP reports whether a URL (already checked by httpURLProblem)
// has the scheme http.
func isPlainHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "http"
}

// ValidateRemoteClusterConfigurationUpdate checks what an update of a
// RemoteClusterConfiguration may change. Every spec field may change (the
// connection is re-established), so it reports nothing today; it does not
// repeat ValidateRemoteClusterConfiguration, which callers run on newObj as
// well.
func ValidateRemoteClusterConfigurationUpdate(newObj, oldObj *v3.RemoteClusterConfiguration) field.ErrorList {
	return nil
}

// ValidateRemoteClusterConfigurationStatus validates the status of a
// RemoteClusterConfiguration: syncState is empty or one of Connecting,
// ResyncInProgress, InSync, ConnectionFailed, ConfigIncomplete; conditions
// follow the metav1.Condition rules (unique types, valid status, reason and
// lastTransitionTime); observedGeneration and the mirrored object counts
// are not negative.
func ValidateRemoteClusterConfigurationStatus(rcc *v3.RemoteClusterConfiguration) field.ErrorList {
	var errs field.ErrorList
	statusPath := field.NewPath("status")
	st := &rcc.Status

	switch st.SyncState {
	case "", v3.SyncStateConnecting, v3.SyncStateResyncInProgress, v3.SyncStateInSync,
		v3.SyncStateConnectionFailed, v3.SyncStateConfigIncomplete:
	default:
		errs = append(errs, field.NotSupported(statusPath.Child("syncState"), st.SyncState, []v3.RemoteClusterSyncState{
			v3.SyncStateConnecting, v3.SyncStateResyncInProgress, v3.SyncStateInSync,
			v3.SyncStateConnectionFailed, v3.SyncStateConfigIncomplete,
		}))
	}

	errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(st.ObservedGeneration, statusPath.Child("observedGeneration"))...)
	errs = append(errs, metav1validation.ValidateConditions(st.Conditions, statusPath.Child("conditions"))...)

	mp := statusPath.Child("mirroredObjects")
	m := st.MirroredObjects
	if m == nil {
		m = &v3.MirroredObjectCounts{}
	}
	for _, c := range []struct {
		name string
		n    int32
	}{
		{"workloadEndpoints", m.WorkloadEndpoints},
		{"hostEndpoints", m.HostEndpoints},
		{"profiles", m.Profiles},
		{"nodes", m.Nodes},
		{"ipPools", m.IPPools},
		{"ipamBlocks", m.IPAMBlocks},
	} {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(c.n), mp.Child(c.name))...)
	}
	return errs
}
