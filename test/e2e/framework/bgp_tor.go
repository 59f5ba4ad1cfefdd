package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Rack is a subnet of nodes behind a router: an underlay of its own, on
// which the router has the address Gateway, the nodes' default gateway.
type Rack struct {
	// Underlay is the rack's L2 network.
	Underlay *Underlay
	// Gateway is the router's address on the rack, with the rack's
	// prefix length (198.18.1.254/24).
	Gateway netip.Prefix
}

// NodeIP is the address of the rack's i-th node (from 0): the rack's
// subnet plus i+1, with its prefix length.
func (r *Rack) NodeIP(i int) netip.Prefix {
	a := r.Gateway.Masked().Addr()
	for range i + 1 {
		a = a.Next()
	}
	return netip.PrefixFrom(a, r.Gateway.Bits())
}

// FRR's daemons as Debian's frr package installs them.
const (
	FRRZebra = "/usr/lib/frr/zebra"
	FRRBgpd  = "/usr/lib/frr/bgpd"
)

// ToRConfig describes a top-of-rack router.
type ToRConfig struct {
	// Name prefixes its namespaces ("m<name>-tor-", "m<name>-r1-u-").
	Name string
	// ASNumber is the router's AS. It peers over eBGP with whichever
	// node of its racks connects (FRR's dynamic neighbors, any AS but
	// its own).
	ASNumber uint32
	// Racks are the router's addresses on its racks (198.18.1.254/24),
	// one rack each.
	Racks []netip.Prefix
	// Management, if set, is an underlay the router joins too, with
	// address ManagementAddr: where the host is (Underlay.AddHost), and
	// so the kube-apiservers of clusters with real nodes. The router
	// masquerades what it forwards there (the host routes only its own
	// subnet through its link).
	Management     *Underlay
	ManagementAddr netip.Prefix
	// Password, if set, is the TCP MD5 password of every session: the
	// kernel then drops a node's connection that does not sign with it.
	Password string
}

// ToR is a top-of-rack router: a network namespace forwarding between its
// racks, running FRR (zebra, which programs the namespace's routes, and
// bgpd) with its own configuration, pid files and vty sockets; the
// system's frr service is not involved.
type ToR struct {
	// NS is the router's namespace.
	NS *NetNS
	// Racks are its racks, in ToRConfig.Racks' order.
	Racks []*Rack

	cfg ToRConfig
	// dir holds FRR's configuration, pid files, vty sockets and logs: a
	// directory of its own under the system's temporary directory, which
	// the user frr can reach (a test's TempDir is under a root-only one).
	dir         string
	zebra, bgpd *process
	undo        []func() error
}

// NewToR builds the router, its racks and starts FRR. On error what was
// built is undone.
func NewToR(ctx context.Context, cfg ToRConfig) (*ToR, error) {
	if len(cfg.Racks) == 0 {
		return nil, fmt.Errorf("ToR %s: no racks", cfg.Name)
	}
	for _, bin := range []string{FRRZebra, FRRBgpd, "vtysh", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("ToR %s: %s is missing (Debian packages frr and nftables): %w", cfg.Name, bin, err)
		}
	}
	r := &ToR{cfg: cfg}
	if err := r.build(ctx); err != nil {
		return nil, errors.Join(err, r.Close())
	}
	return r, nil
}

// build runs NewToR's steps.
func (r *ToR) build(ctx context.Context) error {
	prefix := "m" + r.cfg.Name + "-"
	ns, err := NewNetNS(prefix + "tor-")
	if err != nil {
		return err
	}
	r.NS = ns
	r.undo = append(r.undo, ns.Delete)
	if err := errors.Join(ns.Sysctl("net.ipv4.ip_forward", "1"), ns.Sysctl("net.ipv4.conf.all.rp_filter", "0"),
		ns.Sysctl("net.ipv4.conf.default.rp_filter", "0")); err != nil {
		return err
	}
	for i, gw := range r.cfg.Racks {
		u, err := NewUnderlay(fmt.Sprintf("%sr%d-", prefix, i+1))
		if err != nil {
			return err
		}
		r.undo = append(r.undo, u.NS.Delete)
		if err := r.attach(u, fmt.Sprintf("rack%d", i+1), gw); err != nil {
			return err
		}
		r.Racks = append(r.Racks, &Rack{Underlay: u, Gateway: gw})
	}
	if r.cfg.Management != nil {
		if err := r.attach(r.cfg.Management, "mgmt", r.cfg.ManagementAddr); err != nil {
			return err
		}
		if err := r.masquerade(ctx, "mgmt"); err != nil {
			return err
		}
	}
	return r.startFRR(ctx)
}

// attach links the router to u's bridge with interface ifname, address
// addr.
func (r *ToR) attach(u *Underlay, ifname string, addr netip.Prefix) error {
	port := "tor-" + ifname
	err := errors.Join(
		u.NS.IP("link", "add", port, "type", "veth", "peer", "name", ifname, "netns", r.NS.Name),
		u.NS.IP("link", "set", port, "master", "br0"),
		u.NS.IP("link", "set", port, "up"),
		r.NS.IP("addr", "add", addr.String(), "dev", ifname),
		r.NS.IP("link", "set", ifname, "up"),
	)
	if err != nil {
		return fmt.Errorf("linking ToR %s to %s: %w", r.cfg.Name, u.NS.Name, err)
	}
	return nil
}

// masquerade makes the router masquerade what it forwards out of ifname.
func (r *ToR) masquerade(ctx context.Context, ifname string) error {
	rules := fmt.Sprintf(`table ip meshapi-e2e-tor {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname %q masquerade
	}
}
`, ifname)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", r.NS.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ToR %s: masquerading out of %s: %w\n%s", r.cfg.Name, ifname, err, out)
	}
	return nil
}

// frrConfig is the router's FRR configuration: eBGP with every node of
// its racks that connects (a dynamic peer group accepting any other AS),
// no policy required, so that it passes every node's blocks to every
// other AS; zebra installs the best routes in the namespace.
func (r *ToR) frrConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hostname tor-%s\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n", r.cfg.Name, r.cfg.ASNumber, r.cfg.Racks[0].Addr())
	b.WriteString(" neighbor NODES peer-group\n neighbor NODES remote-as external\n")
	if r.cfg.Password != "" {
		fmt.Fprintf(&b, " neighbor NODES password %s\n", r.cfg.Password)
	}
	for _, gw := range r.cfg.Racks {
		fmt.Fprintf(&b, " bgp listen range %s peer-group NODES\n", gw.Masked())
	}
	return b.String()
}

// startFRR writes the configuration and runs zebra, then bgpd, in the
// router's namespace as the user frr (zebra refuses root, which is not
// in the frrvty group), and waits until bgpd answers on its vty.
func (r *ToR) startFRR(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "meshapi-tor-"+r.cfg.Name+"-")
	if err != nil {
		return fmt.Errorf("ToR %s: directory: %w", r.cfg.Name, err)
	}
	r.dir = dir
	r.undo = append(r.undo, func() error { return os.RemoveAll(dir) })
	if err := chownToFRR(dir); err != nil {
		return err
	}
	conf := filepath.Join(r.dir, "frr.conf")
	if err := os.WriteFile(conf, []byte(r.frrConfig()), 0o644); err != nil {
		return fmt.Errorf("ToR %s: writing %s: %w", r.cfg.Name, conf, err)
	}
	zserv := filepath.Join(r.dir, "zserv.api")
	daemon := func(name, bin string, more ...string) *process {
		args := append([]string{"netns", "exec", r.NS.Name, bin, "-f", conf, "-i", filepath.Join(r.dir, name+".pid"),
			"--vty_socket", r.dir, "-z", zserv, "-u", "frr", "-g", "frr", "--log", "stdout"}, more...)
		return &process{name: name + " of ToR " + r.cfg.Name, path: "ip", args: args, log: filepath.Join(r.dir, name+".log")}
	}
	r.zebra = daemon("zebra", FRRZebra)
	if err := r.zebra.start(); err != nil {
		return err
	}
	r.undo = append(r.undo, func() error { return r.zebra.stop(10 * time.Second) })
	if err := Poll(ctx, 30*time.Second, "zebra's socket "+zserv, func() (bool, string) {
		_, err := os.Stat(zserv)
		return err == nil, r.zebra.tail(5)
	}); err != nil {
		return err
	}
	r.bgpd = daemon("bgpd", FRRBgpd, "-p", "179")
	if err := r.bgpd.start(); err != nil {
		return err
	}
	r.undo = append(r.undo, func() error { return r.bgpd.stop(10 * time.Second) })
	return Poll(ctx, 30*time.Second, "bgpd of ToR "+r.cfg.Name+" answering", func() (bool, string) {
		out, err := r.VTY(ctx, "show bgp summary")
		return err == nil, out + r.bgpd.tail(5)
	})
}

// chownToFRR gives dir to the user and group frr, which FRR's daemons run
// as and write their pid files and sockets as.
func chownToFRR(dir string) error {
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("the user frr (Debian package frr): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("giving %s to frr: %w", dir, err)
	}
	return nil
}

// VTY runs one vtysh command against the router's daemons.
func (r *ToR) VTY(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "vtysh", "--vty_socket", r.dir, "-c", command).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh -c %q on ToR %s: %w\n%s", command, r.cfg.Name, err, out)
	}
	return string(out), nil
}

// RIB returns the prefixes of bgpd's IPv4 unicast table (`show ip bgp`),
// each with its next hops.
func (r *ToR) RIB(ctx context.Context) (map[netip.Prefix][]string, error) {
	out, err := r.VTY(ctx, "show ip bgp json")
	if err != nil {
		return nil, err
	}
	var table struct {
		Routes map[string][]struct {
			Nexthops []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &table); err != nil {
		return nil, fmt.Errorf("ToR %s: parsing `show ip bgp json`: %w\n%s", r.cfg.Name, err, out)
	}
	rib := map[netip.Prefix][]string{}
	for s, paths := range table.Routes {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("ToR %s: route %q: %w", r.cfg.Name, s, err)
		}
		for _, path := range paths {
			for _, nh := range path.Nexthops {
				rib[p] = append(rib[p], nh.IP)
			}
		}
	}
	return rib, nil
}

// Logs returns the end of zebra's and bgpd's logs, for failures.
func (r *ToR) Logs(n int) string {
	var s strings.Builder
	for _, p := range []*process{r.zebra, r.bgpd} {
		if p != nil {
			s.WriteString(p.tail(n) + "\n")
		}
	}
	return s.String()
}

// Close stops FRR and deletes the router's and the racks' namespaces (the
// management underlay is left, unlinked), reporting every step that
// failed. Calling it again does nothing.
func (r *ToR) Close() error {
	var errs []error
	for i := len(r.undo) - 1; i >= 0; i-- {
		errs = append(errs, r.undo[i]())
	}
	r.undo = nil
	return errors.Join(errs...)
}
