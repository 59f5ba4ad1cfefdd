package controllermanager

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// want are substrings of the error; none means valid.
		want []string
	}{
		{name: "defaults"},
		{name: "tuned", args: []string{"--workers=32", "--kube-api-qps=50", "--kube-api-burst=100", "--secret-resync-period=5m"}},
		{name: "no workers", args: []string{"--workers=0"}, want: []string{"--workers must be at least 1, not 0"}},
		{name: "writes in flight tuned", args: []string{"--mirror-writes-in-flight=200"}},
		{name: "no writes in flight", args: []string{"--mirror-writes-in-flight=0"}, want: []string{"--mirror-writes-in-flight must be at least 1, not 0"}},
		{name: "zero qps", args: []string{"--kube-api-qps=0"}, want: []string{"--kube-api-qps must be positive, not 0"}},
		{name: "no burst", args: []string{"--kube-api-burst=0"}, want: []string{"--kube-api-burst must be at least 1, not 0"}},
		{name: "negative grace", args: []string{"--federation-remote-grace-period=-1s"}, want: []string{"--federation-remote-grace-period must not be negative, not -1s"}},
		{name: "resync too fast", args: []string{"--secret-resync-period=10ms"}, want: []string{"--secret-resync-period must be at least 1s, not 10ms"}},
		{name: "leader election out of order", args: []string{"--leader-election-renew-deadline=20s"},
			want: []string{"lease duration > renew deadline > retry period, not 15s > 20s > 2s"}},
		{name: "leader election off skips its check", args: []string{"--leader-elect=false", "--leader-election-renew-deadline=20s"}},
		{name: "ipam gc tuned", args: []string{"--ipam-gc-grace-period=0s", "--ipam-gc-interval=10s"}},
		{name: "negative ipam gc grace", args: []string{"--ipam-gc-grace-period=-1m"}, want: []string{"--ipam-gc-grace-period must not be negative, not -1m0s"}},
		{name: "ipam gc too often", args: []string{"--ipam-gc-interval=100ms"}, want: []string{"--ipam-gc-interval must be at least 1s, not 100ms"}},
		{name: "mcs cluster id", args: []string{"--mcs-cluster-id=cluster-a"}},
		{name: "mcs off", args: []string{"--mcs=false"}},
		{name: "mcs cluster id not a DNS label", args: []string{"--mcs-cluster-id=Cluster_A"}, want: []string{`--mcs-cluster-id must be a DNS label (RFC 1123), not "Cluster_A"`}},
		{name: "direct off", args: []string{"--direct-apiservice="}},
		{name: "direct recheck too often", args: []string{"--direct-apiservice-recheck-period=10ms"}, want: []string{"--direct-apiservice-recheck-period must be at least 1s, not 10ms"}},
		{name: "every error at once", args: []string{"--workers=0", "--kube-api-qps=-1"},
			want: []string{"--workers must be at least 1", "--kube-api-qps must be positive, not -1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %v", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestAPIServiceGroupVersion(t *testing.T) {
	for name, want := range map[string]string{
		"v3.projectcalico.org":       "projectcalico.org/v3",
		"v1beta1.metrics.k8s.io":     "metrics.k8s.io/v1beta1",
		"v1alpha1.multicluster.x":    "multicluster.x/v1alpha1",
		"not-a-versioned-group-name": "not-a-versioned-group-name",
	} {
		if got := apiServiceGroupVersion(name); got != want {
			t.Errorf("apiServiceGroupVersion(%q) = %q, want %q", name, got, want)
		}
	}
}
