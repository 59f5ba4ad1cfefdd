package soak

import (
	"fmt"
	"regexp"
	"strings"
)

// problemLine matches the log lines that report a problem: klog's error
// lines ("E1203 00:17:01.123456 ..."), and the remote cluster
// controller's refusals and lost connections, which count in
// remote_cluster_errors_total but are logged at info level.
var problemLine = regexp.MustCompile(`^E\d{4} |"Refusing to mirror a remote object"|"Remote cluster connection failed`)

// logProblems counts the problem lines of log and returns the first
// limit of them.
func logProblems(log string, limit int) (int, []string) {
	n := 0
	var first []string
	for _, line := range strings.Split(log, "\n") {
		if !problemLine.MatchString(line) {
			continue
		}
		n++
		if len(first) < limit {
			first = append(first, line)
		}
	}
	return n, first
}

// processProblems are the problem lines of one process's log.
type processProblems struct {
	process string
	count   int
	first   []string
}

// collectProblems reads the problem lines of every cluster's
// meshapi-controller and meshapi-agent logs.
func collectProblems(m *mesh) []processProblems {
	var out []processProblems
	for _, mb := range m.members {
		n, first := logProblems(mb.cluster.ControllerLog(), 5)
		out = append(out, processProblems{fmt.Sprintf("meshapi-controller of %s", mb.name()), n, first})
		if mb.agent != nil {
			n, first := logProblems(mb.agent.Log(1<<30), 5)
			out = append(out, processProblems{fmt.Sprintf("meshapi-agent of %s", mb.name()), n, first})
		}
	}
	return out
}
