package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DescribePods says why the Pods of namespace ns are not Ready, as
// `kubectl describe` would: each Pod's phase, node, IP, conditions that
// do not hold (reason and message), each container's state (waiting or
// terminated, with reason and message), then the namespace's Events,
// oldest first.
func DescribePods(ctx context.Context, kube kubernetes.Interface, ns string) string {
	var s strings.Builder
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&s, "listing the Pods of %s: %v\n", ns, err)
	} else {
		for i := range pods.Items {
			s.WriteString(describePod(&pods.Items[i]))
		}
	}
	events, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&s, "listing the Events of %s: %v\n", ns, err)
	} else {
		s.WriteString(describeEvents(ns, events.Items))
	}
	return s.String()
}

// describePod is one Pod's lines of DescribePods.
func describePod(p *corev1.Pod) string {
	var s strings.Builder
	node := p.Spec.NodeName
	if node == "" {
		node = "(unscheduled)"
	}
	fmt.Fprintf(&s, "--- pod %s/%s: %s on %s, IP %q", p.Namespace, p.Name, p.Status.Phase, node, p.Status.PodIP)
	if p.DeletionTimestamp != nil {
		fmt.Fprintf(&s, ", deleted at %s", p.DeletionTimestamp.UTC().Format("15:04:05"))
	}
	s.WriteString("\n")
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			fmt.Fprintf(&s, "    condition %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		fmt.Fprintf(&s, "    container %s: %s, ready=%v, restarts %d\n", cs.Name, containerState(cs.State), cs.Ready, cs.RestartCount)
		if cs.LastTerminationState.Terminated != nil {
			fmt.Fprintf(&s, "      last: %s\n", containerState(cs.LastTerminationState))
		}
	}
	return s.String()
}

// containerState is a container state in one phrase.
func containerState(st corev1.ContainerState) string {
	switch {
	case st.Waiting != nil:
		return fmt.Sprintf("waiting (%s: %s)", st.Waiting.Reason, st.Waiting.Message)
	case st.Terminated != nil:
		return fmt.Sprintf("terminated with code %d (%s: %s)", st.Terminated.ExitCode, st.Terminated.Reason, st.Terminated.Message)
	case st.Running != nil:
		return "running since " + st.Running.StartedAt.UTC().Format("15:04:05")
	}
	return "no state yet"
}

// describeEvents lists events oldest first, one line each, with their
// count.
func describeEvents(ns string, events []corev1.Event) string {
	sort.SliceStable(events, func(i, j int) bool { return eventTime(&events[i]).Time.Before(eventTime(&events[j]).Time) })
	var s strings.Builder
	fmt.Fprintf(&s, "--- %d events in %s\n", len(events), ns)
	for i := range events {
		e := &events[i]
		fmt.Fprintf(&s, "    %s %s %s/%s %s (x%d): %s\n", eventTime(e).UTC().Format("15:04:05"), e.Type, e.InvolvedObject.Kind,
			e.InvolvedObject.Name, e.Reason, max(e.Count, 1), strings.TrimSpace(e.Message))
	}
	return s.String()
}

// eventTime is when e last happened.
func eventTime(e *corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.NewTime(e.EventTime.Time)
	}
	return e.FirstTimestamp
}

// Problems returns the errors and warnings of n's containerd and kubelet
// logs (sandbox and CNI failures among them), repeated messages
// collapsed into their last occurrence with a count, the last limit of
// each log.
func (n *RealNode) Problems(limit int) string {
	var s strings.Builder
	for _, l := range []struct {
		path string
		sel  *regexp.Regexp
	}{
		{n.paths.containerdLog, containerdProblem},
		{n.paths.kubeletLg, kubeletProblem},
	} {
		b, err := os.ReadFile(l.path)
		if err != nil {
			fmt.Fprintf(&s, "--- %s of %s: %v\n", filepath.Base(l.path), n.Name, err)
			continue
		}
		lines := problemLines(string(b), l.sel, limit)
		fmt.Fprintf(&s, "--- %d problems in %s of %s\n%s", len(lines), filepath.Base(l.path), n.Name, strings.Join(lines, ""))
	}
	return s.String()
}

// containerdProblem selects containerd's errors (failed sandboxes, CNI
// ADD and DEL errors, CNI configuration loads).
var containerdProblem = regexp.MustCompile(`level=(error|fatal)`)

// kubeletProblem selects the kubelet's klog errors and warnings, and the
// runtime's network readiness.
var kubeletProblem = regexp.MustCompile(`^[EWF]\d{4} |network not ready`)

// logTimestamp matches the timestamps and process-specific prefixes of
// klog lines (E1202 14:43:42.126828   30351 file.go:123]) and logrus
// lines (time="..."), and the pod UIDs a kubelet names, which differ
// between otherwise repeated messages.
var logTimestamp = regexp.MustCompile(`^[IEWF]\d{4} [\d:.]+\s+\d+ |time="[^"]*" |podUID="[^"]*"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// problemLines returns the last limit distinct lines of log that sel
// matches, in the order of their last occurrence, each with the number
// of times it occurred (lines that differ only by timestamp or UID are
// the same).
func problemLines(log string, sel *regexp.Regexp, limit int) []string {
	type seen struct {
		line  string
		count int
		last  int
	}
	byKey := map[string]*seen{}
	for i, line := range strings.Split(log, "\n") {
		if line == "" || !sel.MatchString(line) {
			continue
		}
		key := logTimestamp.ReplaceAllString(line, "")
		if e := byKey[key]; e != nil {
			e.line, e.last = line, i
			e.count++
			continue
		}
		byKey[key] = &seen{line: line, count: 1, last: i}
	}
	all := make([]*seen, 0, len(byKey))
	for _, e := range byKey {
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].last < all[j].last })
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = fmt.Sprintf("(x%d) %s\n", e.count, e.line)
	}
	return out
}
