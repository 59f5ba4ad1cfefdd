package e2e

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// meshapi-controller sends its projectcalico.org requests straight to
// meshapi-apiserver, found through the APIService as kube-apiserver's
// aggregator finds it (README, High availability); every other e2e test
// runs it so. This test checks the three ways the connection is chosen and
// left: direct by default (an established connection from the controller
// to meshapi-apiserver's port), through kube-apiserver with
// --direct-apiservice= (none), and an exit when the APIService's caBundle
// changes, so that its Deployment restarts it with the new one.
func TestControllerReachesMeshapiDirectly(t *testing.T) {
	ctx := ctxT(t)
	a := clusters[0]
	if err := a.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.RestartController(ctxT(t)); err != nil {
			t.Errorf("restarting meshapi-controller with its usual flags: %v", err)
		}
	})

	t.Run("direct by default", func(t *testing.T) {
		from := len(a.ControllerLog())
		if err := a.RestartController(ctx); err != nil {
			t.Fatal(err)
		}
		waitControllerLog(t, a, from, `"Reaching projectcalico.org directly" apiService="v3.projectcalico.org"`)
		waitConnected(t, a, a.MeshapiPort, true)
	})

	t.Run("through kube-apiserver when turned off", func(t *testing.T) {
		from := len(a.ControllerLog())
		if err := a.RestartController(ctx, "--direct-apiservice="); err != nil {
			t.Fatal(err)
		}
		waitControllerLog(t, a, from, `"Reaching projectcalico.org through kube-apiserver" reason="--direct-apiservice is empty"`)
		// Its informers have listed and watch by now (leader election
		// and the controllers' start are logged after the choice); give
		// them time to open any connection they would.
		waitControllerLog(t, a, from, `Leader`)
		time.Sleep(3 * time.Second)
		waitConnected(t, a, a.MeshapiPort, false)
	})

	t.Run("exits when the caBundle changes", func(t *testing.T) {
		from := len(a.ControllerLog())
		if err := a.RestartController(ctx, "--direct-apiservice-recheck-period=1s"); err != nil {
			t.Fatal(err)
		}
		waitControllerLog(t, a, from, `"Reaching projectcalico.org directly"`)
		ca, err := os.ReadFile(a.CAFile())
		if err != nil {
			t.Fatal(err)
		}
		// The same CA twice: a caBundle of other bytes that the
		// aggregator still accepts.
		patch := func(bundle []byte) {
			kubectl(t, a, "", "patch", "apiservice", framework.APIServiceName, "--type=merge",
				"-p", fmt.Sprintf(`{"spec":{"caBundle":%q}}`, base64.StdEncoding.EncodeToString(bundle)))
		}
		patch(append(append([]byte{}, ca...), ca...))
		defer patch(ca)
		err = a.WaitControllerExit(30 * time.Second)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("meshapi-controller ended with %v, want exit status 1", err)
		}
		waitControllerLog(t, a, from, "APIService v3.projectcalico.org changed")
	})
}

// waitControllerLog waits until c's meshapi-controller log, from byte
// from on, contains want.
func waitControllerLog(t *testing.T, c *framework.Cluster, from int, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		log := c.ControllerLog()
		if len(log) >= from && strings.Contains(log[from:], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshapi-controller's log has no %q after a minute:\n%s", want, lastLines(log[min(from, len(log)):], 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitConnected waits up to 30 s until meshapi-controller has (want) or has
// no (!want) established TCP connection to port on 127.0.0.1.
func waitConnected(t *testing.T, c *framework.Cluster, port int, want bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pid := c.ControllerPID()
		if pid == 0 {
			t.Fatalf("meshapi-controller does not run:\n%s", lastLines(c.ControllerLog(), 30))
		}
		got, err := connectedTo(pid, port)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshapi-controller (pid %d) connected to 127.0.0.1:%d: %t, want %t", pid, port, got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// connectedTo reports whether process pid holds an established TCP
// connection to 127.0.0.1:port: a socket among its descriptors whose inode
// is such a connection in /proc/<pid>/net/tcp.
func connectedTo(pid, port int) (bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed since
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false, err
	}
	defer f.Close()
	// 127.0.0.1 as /proc/net/tcp writes it: little-endian hex.
	remote := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		const established = "01"
		if fields[2] == remote && fields[3] == established && inodes[fields[9]] {
			return true, nil
		}
	}
	return false, sc.Err()
}
