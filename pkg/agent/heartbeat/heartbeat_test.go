package heartbeat

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRenewed(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	acquired := metav1.NewMicroTime(t0.Add(-time.Hour))
	for _, tc := range []struct {
		name        string
		old         *coordinationv1.Lease
		period      time.Duration
		wantSeconds int32
		wantAcquire time.Time
	}{
		{name: "created", period: 10 * time.Second, wantSeconds: 30, wantAcquire: t0},
		{name: "renewed keeps acquireTime and labels", period: 2 * time.Second, wantSeconds: 6, wantAcquire: acquired.Time,
			old: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "meshapi-agent-n1", Namespace: "ns", ResourceVersion: "7",
				Labels: map[string]string{"keep": "me"}}, Spec: coordinationv1.LeaseSpec{AcquireTime: &acquired}}},
		{name: "sub-second period lasts a second", period: 100 * time.Millisecond, wantSeconds: 1, wantAcquire: t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Renewed(tc.old, "ns", "n1", tc.period, t0)
			if l.Name != "meshapi-agent-n1" || l.Namespace != "ns" || l.Labels[LabelNode] != "n1" {
				t.Errorf("metadata %+v", l.ObjectMeta)
			}
			if tc.old != nil && (l.ResourceVersion != "7" || l.Labels["keep"] != "me") {
				t.Errorf("the old Lease's resourceVersion or labels were not kept: %+v", l.ObjectMeta)
			}
			if *l.Spec.HolderIdentity != "n1" || *l.Spec.LeaseDurationSeconds != tc.wantSeconds || !l.Spec.RenewTime.Time.Equal(t0) ||
				!l.Spec.AcquireTime.Time.Equal(tc.wantAcquire) {
				t.Errorf("spec holder %s, duration %d, renew %v, acquire %v; want n1, %d, %v, %v", *l.Spec.HolderIdentity,
					*l.Spec.LeaseDurationSeconds, l.Spec.RenewTime, l.Spec.AcquireTime, tc.wantSeconds, t0, tc.wantAcquire)
			}
		})
	}
}

func TestStale(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	lease := func(renewedAgo time.Duration) *coordinationv1.Lease {
		return Renewed(nil, "ns", "n1", 10*time.Second, t0.Add(-renewedAgo))
	}
	for _, tc := range []struct {
		name      string
		lease     *coordinationv1.Lease
		wantStale bool
		wantAge   time.Duration
	}{
		{name: "just renewed", lease: lease(0), wantAge: 0},
		{name: "two renewals missed", lease: lease(29 * time.Second), wantAge: 29 * time.Second},
		{name: "exactly the duration", lease: lease(30 * time.Second), wantAge: 30 * time.Second},
		{name: "three renewals missed", lease: lease(31 * time.Second), wantStale: true, wantAge: 31 * time.Second},
		{name: "never renewed", lease: &coordinationv1.Lease{}, wantStale: true, wantAge: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stale, age := Stale(tc.lease, t0)
			if stale != tc.wantStale || age != tc.wantAge {
				t.Errorf("Stale = %v, %v; want %v, %v", stale, age, tc.wantStale, tc.wantAge)
			}
		})
	}
}
