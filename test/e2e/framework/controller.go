package framework

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// RestartController stops meshapi-controller and starts it again with the
// flags StartController gives it plus extra (later flags win); with no
// extra, as StartController runs it. It starts the controller first if it
// never ran.
func (c *Cluster) RestartController(ctx context.Context, extra ...string) error {
	if err := c.StartController(ctx); err != nil {
		return err
	}
	if err := c.controller.stop(30 * time.Second); err != nil {
		return err
	}
	c.controller.args = append(slices.Clone(c.controllerArgs), extra...)
	return c.controller.start()
}

// ControllerPID returns meshapi-controller's process id, or 0 when it
// does not run.
func (c *Cluster) ControllerPID() int {
	if c.controller == nil {
		return 0
	}
	if ended, _ := c.controller.exited(); ended {
		return 0
	}
	return c.controller.cmd.Process.Pid
}

// WaitControllerExit waits up to timeout for meshapi-controller to exit
// by itself and returns how it ended (nil for exit status 0).
func (c *Cluster) WaitControllerExit(timeout time.Duration) error {
	if c.controller == nil || c.controller.cmd == nil {
		return fmt.Errorf("cluster %s: meshapi-controller was not started", c.Name)
	}
	select {
	case <-c.controller.done:
		return c.controller.err
	case <-time.After(timeout):
		return fmt.Errorf("cluster %s: meshapi-controller still runs after %s\n%s", c.Name, timeout, c.controller.tail(20))
	}
}
