//go:build linux

package wireguard

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// uapiDirectory is where wgctrl (and the wg tool) look for the UAPI
// sockets of userspace WireGuard devices.
const uapiDirectory = "/var/run/wireguard"

// userspaceDevice is a wireguard-go device on a TUN device of a network
// namespace, with its UAPI socket. Its goroutines run until Close.
type userspaceDevice struct {
	name     string // the TUN device
	uapiName string // the UAPI socket's name, what wgctrl calls the device
	dev      *device.Device
	uapi     *net.UnixListener

	wg     sync.WaitGroup // the accept loop and the UAPI connections
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// startUserspace creates the TUN device name inside ns, runs wireguard-go
// on it, and serves its UAPI socket uapiName. Everything that creates a
// socket or a device does it inside ns: the TUN device, its netlink
// listener, and (through nsBind, also later, when the port changes or the
// device comes up again) the UDP sockets.
func startUserspace(ns netns.NsHandle, h *netlink.Handle, name, uapiName string, mtu int, log *slog.Logger) (*userspaceDevice, error) {
	var tdev tun.Device
	if err := inNamespace(ns, func() error {
		var err error
		tdev, err = tun.CreateTUN(name, mtu)
		return err
	}); err != nil {
		return nil, fmt.Errorf("WireGuard device %s: creating the TUN device for userspace WireGuard: %w", name, err)
	}
	link, err := h.LinkByName(name)
	if err != nil {
		tdev.Close()
		return nil, fmt.Errorf("WireGuard device %s: the new TUN device is not in the target namespace: %w", name, err)
	}
	uapi, err := listenUAPI(uapiName)
	if err != nil {
		tdev.Close()
		return nil, fmt.Errorf("WireGuard device %s: %w", name, err)
	}
	logger := &device.Logger{
		Verbosef: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...), "device", name) },
		Errorf:   func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...), "device", name) },
	}
	u := &userspaceDevice{
		name:     name,
		uapiName: uapiName,
		dev:      device.NewDevice(&nsTUN{Device: tdev, h: h, index: link.Attrs().Index}, &nsBind{Bind: conn.NewDefaultBind(), ns: ns}, logger),
		uapi:     uapi,
		conns:    map[net.Conn]struct{}{},
	}
	u.wg.Add(1)
	go u.serveUAPI()
	return u, nil
}

// listenUAPI listens on the UAPI socket uapiDirectory/name.sock, replacing
// a stale socket file but not one a live process serves.
func listenUAPI(name string) (*net.UnixListener, error) {
	if err := os.MkdirAll(uapiDirectory, 0o755); err != nil {
		return nil, fmt.Errorf("UAPI socket directory: %w", err)
	}
	path := filepath.Join(uapiDirectory, name+".sock")
	addr := &net.UnixAddr{Name: path, Net: "unix"}
	l, err := net.ListenUnix("unix", addr)
	if err != nil && errors.Is(err, unix.EADDRINUSE) {
		if c, derr := net.Dial("unix", path); derr == nil {
			c.Close()
			return nil, fmt.Errorf("UAPI socket %s is served by another process", path)
		}
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale UAPI socket %s: %w", path, rerr)
		}
		l, err = net.ListenUnix("unix", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("UAPI socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("UAPI socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(true)
	return l, nil
}

// serveUAPI hands each UAPI connection to the device until the listener
// is closed.
func (u *userspaceDevice) serveUAPI() {
	defer u.wg.Done()
	for {
		c, err := u.uapi.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			c.Close()
			return
		}
		u.conns[c] = struct{}{}
		u.wg.Add(1)
		u.mu.Unlock()
		go func() {
			defer u.wg.Done()
			u.dev.IpcHandle(c) // closes c
			u.mu.Lock()
			delete(u.conns, c)
			u.mu.Unlock()
		}()
	}
}

// up brings the WireGuard device up (it also comes up by itself when the
// link is set up; this makes it synchronous).
func (u *userspaceDevice) up() error {
	if err := u.dev.Up(); err != nil {
		return fmt.Errorf("WireGuard device %s: bringing userspace WireGuard up: %w", u.name, err)
	}
	return nil
}

// Close stops the device and its goroutines; the TUN device disappears
// from its namespace, with its routes.
func (u *userspaceDevice) Close() error {
	u.mu.Lock()
	u.closed = true
	err := u.uapi.Close()
	for c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	u.dev.Close()
	<-u.dev.Wait()
	u.wg.Wait()
	if err != nil {
		return fmt.Errorf("WireGuard device %s: closing the UAPI socket: %w", u.name, err)
	}
	return nil
}

// nsTUN is the TUN device with its MTU read through the namespace's
// netlink handle: the wrapped device's own MTU() opens a socket in
// whichever namespace the calling thread happens to be in.
type nsTUN struct {
	tun.Device
	h     *netlink.Handle
	index int
}

func (t *nsTUN) MTU() (int, error) {
	l, err := t.h.LinkByIndex(t.index)
	if err != nil {
		return 0, fmt.Errorf("reading the MTU of link %d: %w", t.index, err)
	}
	return l.Attrs().MTU, nil
}

// nsBind opens wireguard-go's UDP sockets inside the namespace; sending
// and receiving on them then works from any thread.
type nsBind struct {
	conn.Bind
	ns netns.NsHandle
}

func (b *nsBind) Open(port uint16) (fns []conn.ReceiveFunc, actual uint16, err error) {
	err = inNamespace(b.ns, func() error {
		var err error
		fns, actual, err = b.Bind.Open(port)
		return err
	})
	return fns, actual, err
}
