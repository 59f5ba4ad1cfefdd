package speaker

import (
	"github.com/go-logr/logr"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// logAdapter passes GoBGP's messages to a logr.Logger: errors and
// warnings as errors and level 0, information at level 2, debug at 4.
type logAdapter struct{ l logr.Logger }

func keysAndValues(f gobgplog.Fields) []any {
	kv := make([]any, 0, 2*len(f))
	for k, v := range f {
		kv = append(kv, k, v)
	}
	return kv
}

func (a logAdapter) Panic(msg string, f gobgplog.Fields) { a.l.Error(nil, msg, keysAndValues(f)...) }
func (a logAdapter) Fatal(msg string, f gobgplog.Fields) { a.l.Error(nil, msg, keysAndValues(f)...) }
func (a logAdapter) Error(msg string, f gobgplog.Fields) { a.l.Error(nil, msg, keysAndValues(f)...) }
func (a logAdapter) Warn(msg string, f gobgplog.Fields)  { a.l.Info(msg, keysAndValues(f)...) }
func (a logAdapter) Info(msg string, f gobgplog.Fields)  { a.l.V(2).Info(msg, keysAndValues(f)...) }
func (a logAdapter) Debug(msg string, f gobgplog.Fields) { a.l.V(4).Info(msg, keysAndValues(f)...) }

// SetLevel is ignored: the logr.Logger's verbosity decides.
func (a logAdapter) SetLevel(gobgplog.LogLevel) {}

// GetLevel is debug, so that GoBGP hands every message to the logger.
func (a logAdapter) GetLevel() gobgplog.LogLevel { return gobgplog.DebugLevel }
