package remotecluster

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// A partition (a route gone, a firewall dropping packets) neither ends
// nor fails an open watch: the informers wait on silent connections and
// the status would stay InSync for as long as it lasts. So the syncer
// also asks the remote API server's /readyz (readable by any
// authenticated or unauthenticated client, system:public-info-viewer)
// every probeInterval, and a probe that does not answer within
// probeTimeout reports the connection failed. The watches are kept: when
// the path heals they go on where they stopped (or fail, and relist), and
// the next successful probe lets the mirror be reported InSync again.
const (
	probeInterval = 5 * time.Second
	probeTimeout  = 5 * time.Second
)

// probe checks the remote API server until ctx ends.
func (s *Syncer) probe(ctx context.Context) {
	rc := s.remote.Discovery().RESTClient()
	if rc == nil {
		return // a client without a REST client (a fake) cannot be probed
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		_, err := rc.Get().AbsPath("/readyz").DoRaw(pctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.probeDown = err != nil
		s.mu.Unlock()
		if err != nil {
			s.fail(ctx, fmt.Errorf("remote cluster %s: readiness probe: no answer within %s: %w", s.cluster, probeTimeout, err), false)
		}
	}, probeInterval)
}
