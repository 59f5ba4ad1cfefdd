//go:build linux

package wireguard

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNamespace runs fn on an OS thread switched into ns, so that the sockets
// and devices fn creates belong to ns, and switches the thread back. The
// thread goes back to the runtime's pool only if it is back in its original
// namespace; otherwise it ends with the goroutine. (Letting a thread that
// is back in place end instead would be wrong too: a child process started
// from it with Pdeathsig would be killed.) Goroutines fn starts run on
// other threads, in the process's namespace: only what fn creates itself
// is placed in ns. When the thread is already in ns, fn runs without setns:
// an agent programming its own namespace (a Pod without CAP_SYS_ADMIN) may
// not call setns at all, not even into the namespace it is in.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread() // the thread was not moved
			errc <- fmt.Errorf("reading the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if orig.Equal(ns) {
			err = fn()
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread() // setns failed: the thread was not moved
			errc <- fmt.Errorf("entering network namespace %s: %w", ns, err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
