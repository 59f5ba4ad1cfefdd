package ipam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// Attribute keys of an allocation and the values of AttrType.
const (
	AttrNamespace = "namespace"
	AttrPod       = "pod"
	AttrNode      = "node"
	AttrType      = "type"
	AttrTimestamp = "timestamp"
	// TypePod marks a pod's address.
	TypePod = "pod"
	// TypeVXLANTunnel marks a node's VXLAN tunnel address.
	TypeVXLANTunnel = "vxlanTunnelAddress"
)

// DefaultMaxAttempts bounds the read-decide-write rounds of one change.
const DefaultMaxAttempts = 64

// VXLANTunnelHandle is the handle of node's VXLAN tunnel address.
func VXLANTunnelHandle(node string) string { return "vxlan-tunnel-addr-" + node }

// ClientOptions configure a Client.
type ClientOptions struct {
	// Config is the IPAM configuration (strict affinity, block limits)
	// used while the cluster has no IPAMConfiguration "default"; when it
	// has one, that one rules.
	Config Config
	// MaxAttempts bounds the rounds of one change lost to a concurrent
	// writer (Conflict, AlreadyExists); 0 is DefaultMaxAttempts.
	MaxAttempts int
	// Now is the clock of claim times and timestamps; nil is time.Now.
	Now func() time.Time
	// Cache, when set, serves the IPPools, the IPAMConfiguration and the
	// node's labels that a decision reads besides the blocks, from a
	// watch-fed cache instead of a request each (a node-local service's
	// informers, see pkg/ipamd). A decision that found no pool, or no free
	// address, is still taken again on a consistent list of the pools;
	// every block write stays a compare-and-swap.
	Cache ConfigCache
}

// ConfigCache is a watch-fed view of what an allocation decides on
// besides the IPAMBlocks. What it returns is shared: callers do not
// modify it.
type ConfigCache interface {
	// IPPools are the cluster's pools, by name.
	IPPools() ([]*v3.IPPool, error)
	// IPAMConfiguration is the IPAMConfiguration "default", nil when
	// there is none.
	IPAMConfiguration() (*v3.IPAMConfiguration, error)
	// Node is the projectcalico.org/v3 Node of that name, nil when there
	// is none.
	Node(name string) (*v3.Node, error)
}

// Client allocates and releases addresses through the API. It holds no
// lock, and no cache but the configuration one ClientOptions.Cache may
// give it: any number of Clients, in any process, may share a cluster.
type Client struct {
	cs   versioned.Interface
	opts ClientOptions
}

// NewClient returns a Client with Calico's default configuration.
func NewClient(cs versioned.Interface) *Client {
	return NewClientWithOptions(cs, ClientOptions{})
}

// NewClientWithOptions returns a Client configured by opts.
func NewClientWithOptions(cs versioned.Interface, opts ClientOptions) *Client {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{cs: cs, opts: opts}
}

// AssignArgs say what address to allocate, for whom.
type AssignArgs struct {
	// Handle names the allocation: "<network>.<containerID>" or
	// VXLANTunnelHandle(node).
	Handle string
	// Node is the node the address is for.
	Node string
	// Attrs are recorded with the allocation: namespace, pod, node, type
	// (node, type and timestamp are filled in when missing).
	Attrs map[string]string
	// Pools restrict the allocation to these IPPools (names or CIDRs);
	// empty: every enabled pool that admits Node.
	Pools []string
	// Requested are exact addresses wanted (ipAddrs annotation); they
	// override Pools.
	Requested []netip.Addr
	// IPv6 also allocates one IPv6 address, from IPv6Pools (names or
	// CIDRs; empty: every enabled IPv6 pool that admits Node).
	IPv6 bool
	// IPv6Pools restrict the IPv6 allocation (ipv6pools annotation).
	IPv6Pools []string
}

// Allocation is one address held by a handle.
type Allocation struct {
	// Handle holds the address.
	Handle string
	// Addr is the address.
	Addr netip.Addr
	// Block is the name of the IPAMBlock that records it.
	Block string
	// Attrs are the allocation's attributes.
	Attrs map[string]string
}

// Assign allocates one IPv4 address for args.Handle (and, with
// args.IPv6, one IPv6 address), returning those the handle already holds
// instead of new ones; or exactly args.Requested. It reads the
// IPAMConfiguration, the IPPools and (for pools with a nodeSelector) the
// Node once, then each attempt lists every IPAMBlock (after a lost
// compare-and-swap: reads that block only) and writes one block.
func (c *Client) Assign(ctx context.Context, args AssignArgs) ([]netip.Addr, error) {
	if args.Handle == "" || args.Node == "" {
		return nil, fmt.Errorf("ipam: assign: handle %q and node %q must not be empty", args.Handle, args.Node)
	}
	r := c.request(args)
	if len(args.Requested) > 0 {
		return c.assignRequested(ctx, r, args.Requested)
	}
	var s snapshot
	got, err := c.assignFamily(ctx, r, &s)
	if err != nil {
		return nil, fmt.Errorf("ipam: assigning an IPv4 address to handle %q on node %q: %w", args.Handle, args.Node, err)
	}
	if !args.IPv6 {
		return []netip.Addr{got}, nil
	}
	r.family, r.pools = 6, args.IPv6Pools
	got6, err := c.assignFamily(ctx, r, &s)
	if err != nil {
		if _, rerr := c.ReleaseByHandle(ctx, r.handle); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("ipam: assigning an IPv6 address to handle %q on node %q: %w", args.Handle, args.Node, err)
	}
	return []netip.Addr{got, got6}, nil
}

// assignFamily allocates one address of r's family, or returns the one
// the handle holds.
func (c *Client) assignFamily(ctx context.Context, r request, s *snapshot) (netip.Addr, error) {
	var got netip.Addr
	err := c.retry(ctx, func() (bool, error) {
		if err := c.refresh(ctx, r.node, s); err != nil {
			return false, err
		}
		for _, a := range holdings(s.blocks, r.handle) {
			if familyOf(a.Addr) == r.family {
				got = a.Addr
				return true, nil
			}
		}
		ch, err := planAuto(*s, r, s.cfg, c.opts.Now())
		if err != nil {
			return false, ignoreIf(confirmPools(s, err), err)
		}
		got = ch.addr
		done, err := c.write(ctx, ch)
		if !done && err == nil {
			s.refetch = append(s.refetch, ch.block.Name)
		}
		return done, err
	})
	return got, err
}

// assignRequested allocates each requested address in its own change; if
// one fails, those already allocated for the handle are released.
func (c *Client) assignRequested(ctx context.Context, r request, want []netip.Addr) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(want))
	var s snapshot
	for _, a := range want {
		a = a.Unmap()
		err := c.retry(ctx, func() (bool, error) {
			if err := c.refresh(ctx, r.node, &s); err != nil {
				return false, err
			}
			ch, held, err := planAddr(s, r, a, s.cfg, c.opts.Now())
			if err != nil {
				return false, ignoreIf(confirmPools(&s, err), err)
			}
			if held {
				return true, nil
			}
			return c.write(ctx, ch)
		})
		if err != nil {
			if _, rerr := c.ReleaseByHandle(ctx, r.handle); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, fmt.Errorf("ipam: assigning requested address %s to handle %q on node %q: %w", a, r.handle, r.node, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// request builds the allocation request of args, filling in the node,
// type and timestamp attributes.
func (c *Client) request(args AssignArgs) request {
	attrs := maps.Clone(args.Attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	if attrs[AttrNode] == "" {
		attrs[AttrNode] = args.Node
	}
	if attrs[AttrType] == "" {
		attrs[AttrType] = TypePod
		if args.Handle == VXLANTunnelHandle(args.Node) {
			attrs[AttrType] = TypeVXLANTunnel
		}
	}
	if attrs[AttrTimestamp] == "" {
		attrs[AttrTimestamp] = c.opts.Now().UTC().Format(time.RFC3339Nano)
	}
	u := v3.IPPoolAllowedUseWorkload
	if attrs[AttrType] == TypeVXLANTunnel {
		u = v3.IPPoolAllowedUseTunnel
	}
	return request{handle: args.Handle, node: args.Node, attrs: attrs, pools: args.Pools, use: u, family: 4}
}

// write performs ch; done is false when a concurrent writer won and the
// decision must be taken again.
func (c *Client) write(ctx context.Context, ch change) (done bool, err error) {
	if ch.create {
		_, err = c.cs.ProjectcalicoV3().IPAMBlocks().Create(ctx, untracked(ch.block), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("claiming IPAMBlock %s: %w", ch.block.Name, err)
		}
		return true, nil
	}
	_, err = c.cs.ProjectcalicoV3().IPAMBlocks().Update(ctx, untracked(ch.block), metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("updating IPAMBlock %s (resourceVersion %s): %w", ch.block.Name, ch.block.ResourceVersion, err)
	}
	return true, nil
}

// retry runs step until it is done or fails, at most MaxAttempts times,
// pausing a jittered, growing while between rounds lost to a concurrent
// writer.
func (c *Client) retry(ctx context.Context, step func() (bool, error)) error {
	for attempt := range c.opts.MaxAttempts {
		done, err := step()
		if err != nil || done {
			return err
		}
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(attempt+1, 20))))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return fmt.Errorf("gave up after %d attempts lost to concurrent writers", c.opts.MaxAttempts)
}

// ignoreIf is nil when retry is true (the step is taken again), else err.
func ignoreIf(retry bool, err error) error {
	if retry {
		return nil
	}
	return err
}
