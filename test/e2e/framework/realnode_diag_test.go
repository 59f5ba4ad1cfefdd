package framework

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubelet's and containerd's repeated errors collapse into one line
// each (timestamps, pids and pod UIDs aside), in the order of their last
// occurrence, the last limit of them.
func TestProblemLines(t *testing.T) {
	kubelet := strings.Join([]string{
		`I1202 14:43:40.000001   30351 kubelet.go:100] "SyncLoop ADD" pod="x"`,
		`E1202 14:43:42.126828   30351 pod_workers.go:1338] "Error syncing pod, skipping" err="network is not ready" pod="kube-system/coredns-1" podUID="50aad868-a87f-4acd-9121-4a873a66d61a"`,
		`I1202 14:43:41.169331   30351 kubelet.go:3343] "Container runtime network not ready" networkReady="NetworkReady=false"`,
		`E1202 14:43:44.126823   30351 pod_workers.go:1338] "Error syncing pod, skipping" err="network is not ready" pod="kube-system/coredns-1" podUID="50aad868-a87f-4acd-9121-4a873a66d61a"`,
		`W1202 14:43:45.000000   30351 probe.go:1] "Probe failed"`,
		``,
	}, "\n")
	containerd := strings.Join([]string{
		`time="2026-12-02T14:41:06Z" level=warning msg="Configuration migrated"`,
		`time="2026-12-02T14:41:21.871726053Z" level=error msg="failed to reload cni configuration"`,
		`time="2026-12-02T14:42:00.1Z" level=error msg="RunPodSandbox for &PodSandboxMetadata{Name:p,Uid:0b9e0e0c-1111-2222-3333-444455556666,} failed" error="plugin type=\"meshapi\" failed (add): error 11"`,
		`time="2026-12-02T14:42:05.2Z" level=error msg="RunPodSandbox for &PodSandboxMetadata{Name:p,Uid:0b9e0e0c-1111-2222-3333-444455556666,} failed" error="plugin type=\"meshapi\" failed (add): error 11"`,
	}, "\n")
	for _, tc := range []struct {
		name, log string
		sel       string
		limit     int
		want      []string
	}{
		{name: "kubelet", log: kubelet, sel: "kubelet", limit: 10, want: []string{
			"(x1) I1202 14:43:41.169331   30351 kubelet.go:3343] \"Container runtime network not ready\"",
			"(x2) E1202 14:43:44.126823",
			"(x1) W1202 14:43:45.000000",
		}},
		{name: "kubelet, last one", log: kubelet, sel: "kubelet", limit: 1, want: []string{"(x1) W1202"}},
		{name: "containerd", log: containerd, sel: "containerd", limit: 10, want: []string{
			`(x1) time="2026-12-02T14:41:21.871726053Z" level=error msg="failed to reload cni configuration"`,
			`(x2) time="2026-12-02T14:42:05.2Z" level=error msg="RunPodSandbox`,
		}},
		{name: "nothing", log: "", sel: "containerd", limit: 10, want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := kubeletProblem
			if tc.sel == "containerd" {
				sel = containerdProblem
			}
			got := problemLines(tc.log, sel, tc.limit)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(got), len(tc.want), strings.Join(got, ""))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("line %d is %q, want it to start with %q", i, got[i], w)
				}
			}
		})
	}
}

// A Pending Pod's description names what holds it: the unscheduled
// condition, or the sandbox its container waits for.
func TestDescribePod(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want []string
	}{
		{
			name: "unscheduled",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "bookinfo", Name: "productpage"},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 node(s) had untolerated taint"},
				}}},
			want: []string{"pod bookinfo/productpage: Pending on (unscheduled)", "condition PodScheduled=False Unschedulable: 0/1 nodes are available"},
		},
		{
			name: "container creating, then crashing",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "bookinfo", Name: "reviews-v1"}, Spec: corev1.PodSpec{NodeName: "rpd-a1"},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
					{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [c0]"},
				}, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "c0", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
					{Name: "c1", RestartCount: 2, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 20s"}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}},
				}}},
			want: []string{"pod bookinfo/reviews-v1: Pending on rpd-a1", "condition Ready=False ContainersNotReady", "container c0: waiting (ContainerCreating: ), ready=false, restarts 0",
				"container c1: waiting (CrashLoopBackOff: back-off 20s), ready=false, restarts 2", "last: terminated with code 1 (Error: )"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describePod(&tc.pod)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("description lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "PodScheduled=True") {
				t.Errorf("description lists a condition that holds:\n%s", got)
			}
		})
	}
}

// Events come oldest first with their counts.
func TestDescribeEvents(t *testing.T) {
	at := func(s string) metav1.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return metav1.NewTime(tm)
	}
	events := []corev1.Event{
		{Type: "Warning", Reason: "FailedCreatePodSandBox", Count: 7, LastTimestamp: at("2026-12-02T14:43:00Z"),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "productpage"}, Message: "plugin type=\"meshapi\" failed (add)\n"},
		{Type: "Normal", Reason: "Scheduled", EventTime: metav1.NewMicroTime(at("2026-12-02T14:42:00Z").Time),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "productpage"}, Message: "Successfully assigned"},
	}
	got := describeEvents("bookinfo", events)
	want := "--- 2 events in bookinfo\n" +
		"    14:42:00 Normal Pod/productpage Scheduled (x1): Successfully assigned\n" +
		"    14:43:00 Warning Pod/productpage FailedCreatePodSandBox (x7): plugin type=\"meshapi\" failed (add)\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
