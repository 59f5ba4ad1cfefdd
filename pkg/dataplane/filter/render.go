package filter

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Chain names. Interface names cannot contain '/', so these never collide.
const (
	forwardChain = "forward"
	egressDir    = "eg"
	ingressDir   = "in"
	maxComment   = 120
)

// dirChain names an endpoint's chain for one direction.
func dirChain(dir, iface string) string { return dir + "/" + iface }

// tierChain names an endpoint's chain for one tier in one direction.
func tierChain(dir, iface string, i int) string {
	return dirChain(dir, iface) + "/" + strconv.Itoa(i)
}

// ruleSpec is one nftables rule to write: its expressions, the constant
// anonymous sets they look up, and the comment that identifies it when
// read back.
type ruleSpec struct {
	comment string
	exprs   []expr.Any
	anon    []anonSet
}

// anonSet is a constant anonymous set of a rule; its ID and name are
// filled in when the rule is written.
type anonSet struct {
	keyType nftables.SetDatatype
	elems   []nftables.SetElement
	lookup  *expr.Lookup
}

// family is an address family a rule is rendered for.
type family struct {
	version int
	nfproto byte
	keyType nftables.SetDatatype
	srcOff  uint32
	addrLen uint32
}

var (
	ipv4 = family{version: 4, nfproto: unix.NFPROTO_IPV4, keyType: nftables.TypeIPAddr, srcOff: 12, addrLen: 4}
	ipv6 = family{version: 6, nfproto: unix.NFPROTO_IPV6, keyType: nftables.TypeIP6Addr, srcOff: 8, addrLen: 16}
)

// setName is the nftables name of a named set for a family.
func setName(name string, fam family) string {
	return fmt.Sprintf("%s-v%d", name, fam.version)
}

// ifname encodes an interface name as the kernel compares it.
func ifname(name string) []byte {
	b := make([]byte, 16)
	copy(b, name)
	return b
}

// comment makes a rule comment from a description and a fingerprint of
// everything that determines the rule.
func comment(desc string, fingerprint ...any) string {
	h := fnv.New64a()
	enc := json.NewEncoder(h)
	for _, f := range fingerprint {
		_ = enc.Encode(f) // the values are plain data
	}
	c := fmt.Sprintf("%016x %s", h.Sum64(), desc)
	if len(c) > maxComment {
		c = c[:maxComment]
	}
	return c
}

// forwardRules renders the forward hook chain: established and related
// traffic accepted, then a jump per endpoint and direction with policy.
func forwardRules(eps []*Endpoint) []ruleSpec {
	out := []ruleSpec{{
		comment: comment("established,related accept"),
		exprs: []expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
				Xor:  binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
	}}
	for _, d := range []struct {
		dir string
		key expr.MetaKey
	}{{egressDir, expr.MetaKeyIIFNAME}, {ingressDir, expr.MetaKeyOIFNAME}} {
		for _, ep := range eps {
			if len(ep.tiers(d.dir)) == 0 {
				continue
			}
			target := dirChain(d.dir, ep.Interface)
			out = append(out, ruleSpec{
				comment: comment(target, target),
				exprs: []expr.Any{
					&expr.Meta{Key: d.key, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(ep.Interface)},
					&expr.Verdict{Kind: expr.VerdictJump, Chain: target},
				},
			})
		}
	}
	return out
}

// tiers returns the endpoint's tiers for a direction.
func (ep *Endpoint) tiers(dir string) []Tier {
	if dir == egressDir {
		return ep.Egress
	}
	return ep.Ingress
}

// endpointChains renders every chain of an endpoint: per direction with
// tiers, the direction chain and one chain per tier.
func endpointChains(ep *Endpoint) map[string][]ruleSpec {
	out := map[string][]ruleSpec{}
	for _, dir := range []string{egressDir, ingressDir} {
		tiers := ep.tiers(dir)
		if len(tiers) == 0 {
			continue
		}
		out[dirChain(dir, ep.Interface)] = []ruleSpec{
			{
				comment: comment("invalid drop"),
				exprs: []expr.Any{
					&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
					&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
						Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitINVALID),
						Xor:  binaryutil.NativeEndian.PutUint32(0)},
					&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
					&expr.Counter{},
					&expr.Verdict{Kind: expr.VerdictDrop},
				},
			},
			{
				comment: comment("tiers", tierChain(dir, ep.Interface, 0)),
				exprs:   []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: tierChain(dir, ep.Interface, 0)}},
			},
		}
		for i, t := range tiers {
			// What Pass and the end of a Pass tier do: go on with the next
			// tier, or, after the last, return to the forward chain as if
			// no policy applied.
			next := &expr.Verdict{Kind: expr.VerdictReturn}
			if i+1 < len(tiers) {
				next = &expr.Verdict{Kind: expr.VerdictGoto, Chain: tierChain(dir, ep.Interface, i+1)}
			}
			var rules []ruleSpec
			for _, p := range t.Policies {
				for ri, r := range p.Rules {
					rules = append(rules, renderRule(&r, fmt.Sprintf("%s %s %d", p.Name, dir, ri), next)...)
				}
			}
			def := t.DefaultAction
			if def == "" {
				def = Deny
			}
			end := ruleSpec{comment: comment("tier "+t.Name+" default "+string(def), def, next)}
			if def == Deny {
				end.exprs = []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
			} else {
				end.exprs = []expr.Any{&expr.Counter{}, next}
			}
			out[tierChain(dir, ep.Interface, i)] = append(rules, end)
		}
	}
	return out
}

// renderRule renders a rule once per address family it can match in.
func renderRule(r *Rule, desc string, next *expr.Verdict) []ruleSpec {
	var out []ruleSpec
	for _, fam := range []family{ipv4, ipv6} {
		exprs, anon, ok := ruleExprs(r, fam)
		if !ok {
			continue
		}
		exprs = append(exprs, &expr.Counter{})
		switch r.Action {
		case Allow:
			exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictReturn})
		case Deny:
			exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictDrop})
		case Pass:
			exprs = append(exprs, next)
		case Log:
			prefix := r.LogPrefix
			if prefix == "" {
				prefix = "meshapi " + desc + ": "
			}
			if len(prefix) > 127 {
				prefix = prefix[:127]
			}
			exprs = append(exprs, &expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(prefix)})
		}
		out = append(out, ruleSpec{
			comment: comment(fmt.Sprintf("%s v%d %s", desc, fam.version, r.Action), r, fam.version, next),
			exprs:   exprs,
			anon:    anon,
		})
	}
	return out
}

// ofFamily returns the prefixes of one family.
func ofFamily(ps []netip.Prefix, fam family) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if (fam.version == 4) == p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}

// ruleExprs renders a rule's match for one family; ok is false when the
// rule cannot match packets of that family.
func ruleExprs(r *Rule, fam family) (exprs []expr.Any, anon []anonSet, ok bool) {
	if r.IPVersion != 0 && r.IPVersion != fam.version {
		return nil, nil, false
	}
	if r.Protocol != nil && ((*r.Protocol == ProtoICMP && fam.version == 6) || (*r.Protocol == ProtoICMPv6 && fam.version == 4)) {
		return nil, nil, false
	}
	for _, m := range []*Match{&r.Source, &r.Destination} {
		if len(m.Nets) > 0 && len(ofFamily(m.Nets, fam)) == 0 {
			return nil, nil, false
		}
	}
	exprs = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam.nfproto}},
	}
	if r.Protocol != nil {
		exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{*r.Protocol}})
	}
	if r.NotProtocol != nil {
		exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{*r.NotProtocol}})
	}
	for i, m := range []*Match{&r.Source, &r.Destination} {
		addrOff, portOff := fam.srcOff, uint32(0)
		if i == 1 {
			addrOff, portOff = fam.srcOff+fam.addrLen, 2
		}
		loadAddr := func() expr.Any {
			return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: fam.addrLen}
		}
		if nets := ofFamily(m.Nets, fam); len(nets) > 0 {
			l := &expr.Lookup{SourceRegister: 1}
			exprs = append(exprs, loadAddr(), l)
			anon = append(anon, anonSet{keyType: fam.keyType, elems: intervalElements(mergedIntervals(nets)), lookup: l})
		}
		if nets := ofFamily(m.NotNets, fam); len(nets) > 0 {
			l := &expr.Lookup{SourceRegister: 1, Invert: true}
			exprs = append(exprs, loadAddr(), l)
			anon = append(anon, anonSet{keyType: fam.keyType, elems: intervalElements(mergedIntervals(nets)), lookup: l})
		}
		if m.Set != "" {
			exprs = append(exprs, loadAddr(), &expr.Lookup{SourceRegister: 1, SetName: setName(m.Set, fam)})
		}
		loadPort := func() expr.Any {
			return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2}
		}
		if ports := mergedPorts(m.Ports); len(ports) == 1 && ports[0].Min == ports[0].Max {
			exprs = append(exprs, loadPort(), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(ports[0].Min)})
		} else if len(ports) > 0 {
			l := &expr.Lookup{SourceRegister: 1}
			exprs = append(exprs, loadPort(), l)
			anon = append(anon, anonSet{keyType: nftables.TypeInetService, elems: portElements(ports), lookup: l})
		}
		if ports := mergedPorts(m.NotPorts); len(ports) > 0 {
			l := &expr.Lookup{SourceRegister: 1, Invert: true}
			exprs = append(exprs, loadPort(), l)
			anon = append(anon, anonSet{keyType: nftables.TypeInetService, elems: portElements(ports), lookup: l})
		}
	}
	icmp := func(m *ICMPMatch, op expr.CmpOp) {
		if m.Code == nil {
			exprs = append(exprs, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
				&expr.Cmp{Op: op, Register: 1, Data: []byte{m.Type}})
			return
		}
		exprs = append(exprs, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
			&expr.Cmp{Op: op, Register: 1, Data: []byte{m.Type, *m.Code}})
	}
	if r.ICMP != nil {
		icmp(r.ICMP, expr.CmpOpEq)
	}
	if r.NotICMP != nil {
		icmp(r.NotICMP, expr.CmpOpNeq)
	}
	return exprs, anon, true
}

// comments returns the comments of rule specs, in order.
func comments(rs []ruleSpec) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.comment
	}
	return out
}

// sameComments compares two comment lists.
func sameComments(a, b []string) bool { return slices.Equal(a, b) }
