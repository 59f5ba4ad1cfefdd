package mcs

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// svc is a ClusterIP Service with the given ports ("name:port/PROTO").
func svc(ports ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.10"}}
	for _, p := range ports {
		name, rest, _ := strings.Cut(p, ":")
		num, proto, _ := strings.Cut(rest, "/")
		var n int32
		for _, c := range num {
			n = n*10 + int32(c-'0')
		}
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: name, Port: n, Protocol: corev1.Protocol(proto)})
	}
	return s
}

func with(s *corev1.Service, f func(*corev1.Service)) *corev1.Service { f(s); return s }

func port(name string, n int32, proto corev1.Protocol) mcsv1alpha1.ServicePort {
	return mcsv1alpha1.ServicePort{Name: name, Port: n, Protocol: proto}
}

// cond is "Type=Status/Reason" of a condition.
func cond(cs []metav1.Condition, typ string) string {
	for _, c := range cs {
		if c.Type == typ {
			return c.Type + "=" + string(c.Status) + "/" + c.Reason
		}
	}
	return typ + " missing"
}

func TestCompute(t *testing.T) {
	clientIP := func(timeout int32) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(timeout)}}
		}
	}
	local := corev1.ServiceInternalTrafficPolicyLocal
	tests := []struct {
		name    string
		exports []Export
		// want is the import; nil for none.
		want *mcsv1alpha1.ServiceImportSpec
		// sources are the clusters backing the import.
		sources []string
		// conditions are, per cluster, "Valid=…, Ready=…, Conflict=…"
		// as cond prints them.
		conditions map[string]string
		// message is a substring of the first conflicting cluster's Conflict message.
		message string
	}{{
		name:       "Exporting Services: no Service of the export's name is not Valid (NoService) and imports nothing",
		exports:    []Export{{Cluster: "b", Created: t0}},
		conditions: map[string]string{"b": "Valid=False/NoService Ready=False/Pending Conflict missing"},
	}, {
		name:       "Exporting Services: an ExternalName Service cannot be exported (InvalidServiceType)",
		exports:    []Export{{Cluster: "b", Created: t0, Service: with(svc(), func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName })}},
		conditions: map[string]string{"b": "Valid=False/InvalidServiceType Ready=False/Pending Conflict missing"},
	}, {
		name:       "ClusterSetIP: one export is imported with its ports and sessionAffinity None",
		exports:    []Export{{Cluster: "b", Created: t0, Service: svc("http:80/TCP")}},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts"},
	}, {
		name: "Service Port: the import exposes the union of the exports' ports",
		exports: []Export{
			{Cluster: "c", Created: t0.Add(time.Second), Service: svc("http:80/TCP", "metrics:9090/TCP")},
			{Cluster: "b", Created: t0, Service: svc("http:80/TCP", "grpc:9000/TCP")},
		},
		want: &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP), port("grpc", 9000, corev1.ProtocolTCP), port("metrics", 9090, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts"},
	}, {
		name: "Service Port + Conflict resolution policy: the same port name with another protocol is a PortConflict on the newer export; the oldest's port is used",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: svc("dns:53/UDP")},
			{Cluster: "c", Created: t0.Add(time.Minute), Service: svc("dns:53/TCP")},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("dns", 53, corev1.ProtocolUDP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/PortConflict"},
		message:    "spec.ports dns 53/TCP of cluster c conflicts with dns 53/UDP of the older export of cluster b",
	}, {
		name: "Service Port: the same port number and protocol under another name is a PortConflict",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: svc("http:80/TCP")},
			{Cluster: "c", Created: t0.Add(time.Minute), Service: svc("web:80/TCP")},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/PortConflict"},
		message:    "web 80/TCP of cluster c conflicts with http 80/TCP",
	}, {
		name: "Service Port: the resulting ports have no duplicated (empty) names, so an unnamed port beside another is a PortConflict",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: svc(":80/TCP")},
			{Cluster: "c", Created: t0.Add(time.Minute), Service: svc(":8080/TCP")},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/PortConflict"},
		message:    "(unnamed) 8080/TCP of cluster c",
	}, {
		name: "Conflict resolution policy: precedence by creationTimestamp, oldest first, whatever the order given",
		exports: []Export{
			{Cluster: "a", Created: t0.Add(time.Hour), Service: svc("http:80/TCP")},
			{Cluster: "z", Created: t0, Service: svc("http:8080/TCP")},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 8080, corev1.ProtocolTCP)}},
		sources:    []string{"a", "z"},
		conditions: map[string]string{"a": "Valid=True/Valid Ready=True/Exported Conflict=True/PortConflict", "z": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts"},
		message:    "of the older export of cluster z",
	}, {
		name: "Conflict resolution policy: equal creationTimestamps are ordered by cluster name",
		exports: []Export{
			{Cluster: "c", Created: t0, Service: svc("http:8080/TCP")},
			{Cluster: "b", Created: t0, Service: svc("http:80/TCP")},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/PortConflict"},
	}, {
		name: "Headlessness: a Service with clusterIP None is imported Headless",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: with(svc("http:80/TCP"), func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.Headless, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts"},
	}, {
		name: "Headlessness + Conflict resolution policy: a Headless export newer than a ClusterSetIP one is a TypeConflict; the import stays ClusterSetIP",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: svc("http:80/TCP")},
			{Cluster: "c", Created: t0.Add(time.Second), Service: with(svc("http:80/TCP"), func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/TypeConflict"},
		message:    "type Headless conflicts with ClusterSetIP of the older export of cluster b",
	}, {
		name: "Session Affinity: the oldest export's sessionAffinity and its config are copied to the import",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: with(svc("http:80/TCP"), clientIP(600))},
			{Cluster: "c", Created: t0.Add(time.Second), Service: with(svc("http:80/TCP"), clientIP(600))},
		},
		want: &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}},
			Ports:                 []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts"},
	}, {
		name: "Session Affinity + Conflict resolution policy: another sessionAffinity on a newer export is a SessionAffinityConflict",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: with(svc("http:80/TCP"), clientIP(600))},
			{Cluster: "c", Created: t0.Add(time.Second), Service: svc("http:80/TCP")},
		},
		want: &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}},
			Ports:                 []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/SessionAffinityConflict"},
		message:    "spec.sessionAffinity None conflicts with ClientIP",
	}, {
		name: "Session Affinity: another ClientIP timeout on a newer export is a SessionAffinityConfigConflict",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: with(svc("http:80/TCP"), clientIP(600))},
			{Cluster: "c", Created: t0.Add(time.Second), Service: with(svc("http:80/TCP"), clientIP(60))},
		},
		want: &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}},
			Ports:                 []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/SessionAffinityConfigConflict"},
		message:    "timeoutSeconds 60 conflicts with 600",
	}, {
		name: "Global Properties: internalTrafficPolicy is copied from the oldest export; another one is an InternalTrafficPolicyConflict",
		exports: []Export{
			{Cluster: "b", Created: t0, Service: with(svc("http:80/TCP"), func(s *corev1.Service) { s.Spec.InternalTrafficPolicy = &local })},
			{Cluster: "c", Created: t0.Add(time.Second), Service: svc("http:80/TCP")},
		},
		want: &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, InternalTrafficPolicy: &local,
			Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"b", "c"},
		conditions: map[string]string{"b": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts", "c": "Valid=True/Valid Ready=True/Exported Conflict=True/InternalTrafficPolicyConflict"},
		message:    "spec.internalTrafficPolicy unset conflicts with Local",
	}, {
		name: "Exporting Services: an invalid export does not stop the valid ones from being imported",
		exports: []Export{
			{Cluster: "b", Created: t0},
			{Cluster: "c", Created: t0.Add(time.Second), Service: svc("http:80/TCP")},
		},
		want:       &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone, Ports: []mcsv1alpha1.ServicePort{port("http", 80, corev1.ProtocolTCP)}},
		sources:    []string{"c"},
		conditions: map[string]string{"b": "Valid=False/NoService Ready=False/Pending Conflict missing", "c": "Valid=True/Valid Ready=True/Exported Conflict=False/NoConflicts"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(tt.exports)
			if !apiequality.Semantic.DeepEqual(got.Import, tt.want) {
				t.Errorf("import\n got %+v\nwant %+v", got.Import, tt.want)
			}
			if strings.Join(got.Sources, ",") != strings.Join(tt.sources, ",") {
				t.Errorf("sources %v, want %v", got.Sources, tt.sources)
			}
			for cluster, want := range tt.conditions {
				cs := got.Conditions[cluster]
				if g := cond(cs, "Valid") + " " + cond(cs, "Ready") + " " + cond(cs, "Conflict"); g != want {
					t.Errorf("cluster %s: conditions %s, want %s", cluster, g, want)
				}
			}
			if tt.message != "" {
				found := false
				for _, cs := range got.Conditions {
					for _, c := range cs {
						found = found || (c.Type == "Conflict" && strings.Contains(c.Message, tt.message))
					}
				}
				if !found {
					t.Errorf("no Conflict message contains %q: %+v", tt.message, got.Conditions)
				}
			}
		})
	}
}
