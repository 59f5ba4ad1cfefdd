package framework

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// LogMark is where each controller replica's log ends now; ErrorsSince
// reads what the replicas logged after it.
func (s *Controllers) LogMark() []int64 {
	var mark []int64
	for _, p := range []*process{s.c.controller, s.second} {
		size := int64(0)
		if fi, err := os.Stat(p.log); err == nil {
			size = fi.Size()
		}
		mark = append(mark, size)
	}
	return mark
}

// ErrorsSince summarizes the errors both replicas logged after mark:
// one line per distinct message with its count, the most frequent first.
func (s *Controllers) ErrorsSince(mark []int64) []string {
	var b strings.Builder
	for i, p := range []*process{s.c.controller, s.second} {
		from := int64(0)
		if i < len(mark) {
			from = mark[i]
		}
		b.WriteString(readFrom(p.log, from))
	}
	return SummarizeKlogErrors(b.String())
}

// readFrom returns file's contents from offset on ("" if unreadable, all
// of it if it shrank: a new file).
func readFrom(file string, offset int64) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < offset {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// klogErrorLine is a klog error line: its level E and header, then the
// structured message and its key/value pairs.
var klogErrorLine = regexp.MustCompile(`^E\d{4} [0-9:.]+\s+\d+ [^\]]+\] (.*)$`)

// klogQuoted is a structured klog line's quoted message.
var klogQuoted = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)"`)

// klogErrValue is the err="..." pair of a structured klog line.
var klogErrValue = regexp.MustCompile(`err="((?:[^"\\]|\\.)*)"`)

// SummarizeKlogErrors counts klog's error lines in log by message and
// error (err="...", the remote object's key left out so that the same
// failure of many objects is one line), and returns "N× message: error"
// lines, the most frequent first, then by text.
func SummarizeKlogErrors(log string) []string {
	counts := map[string]int{}
	for line := range strings.SplitSeq(log, "\n") {
		m := klogErrorLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		msg := m[1]
		if q := klogQuoted.FindStringSubmatch(msg); q != nil {
			msg = strings.ReplaceAll(q[1], `\"`, `"`)
		}
		if e := klogErrValue.FindStringSubmatch(m[1]); e != nil {
			msg += ": " + strings.ReplaceAll(e[1], `\"`, `"`)
		}
		counts[msg]++
	}
	var out []string
	for msg, n := range counts {
		out = append(out, fmt.Sprintf("%d× %s", n, msg))
	}
	slices.SortFunc(out, func(a, b string) int {
		var na, nb int
		fmt.Sscanf(a, "%d", &na)
		fmt.Sscanf(b, "%d", &nb)
		if na != nb {
			return nb - na
		}
		return strings.Compare(a, b)
	})
	return out
}
