package validation

import (
	"fmt"
	"net/netip"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Block sizes: defaults and allowed ranges per family.
const (
	defaultBlockSizeV4 = 26
	defaultBlockSizeV6 = 122
	minBlockSizeV4     = 20
	maxBlockSizeV4     = 32
	minBlockSizeV6     = 116
	maxBlockSizeV6     = 128
)

// reservedRange is a range pool CIDRs must not overlap.
type reservedRange struct {
	name   string
	prefix netip.Prefix
}

// reservedRanges returns the ranges no IP pool may overlap.
func reservedRanges() []reservedRange {
	return []reservedRange{
		{"IPv4 link-local", netip.MustParsePrefix("169.254.0.0/16")},
		{"IPv6 link-local", netip.MustParsePrefix("fe80::/10")},
		{"IPv4 loopback", netip.MustParsePrefix("127.0.0.0/8")},
		{"IPv6 loopback", netip.MustParsePrefix("::1/128")},
		{"IPv4 multicast", netip.MustParsePrefix("224.0.0.0/4")},
		{"IPv6 multicast", netip.MustParsePrefix("ff00::/8")},
		{"IPv4-mapped IPv6", netip.MustParsePrefix("::ffff:0.0.0.0/96")},
	}
}

// encapEnabled reports whether an encapsulation mode turns encapsulation on.
func encapEnabled(m v3.EncapMode) bool {
	return m == v3.EncapModeAlways || m == v3.EncapModeCrossSubnet
}

// isMirrored reports whether an object was mirrored from a remote cluster.
func isMirrored(labels map[string]string) bool {
	_, ok := labels[v3.LabelCluster]
	return ok
}

// ValidateIPPool validates an IPPool on its own: spec.cidr is a strictly
// masked CIDR outside the link-local, loopback and multicast ranges (and
// the IPv4-mapped IPv6 range, which the dataplane cannot route as IPv4);
// blockSize is 0 (default: 26 for IPv4, 122 for IPv6) or 20-32 (IPv4) /
// 116-128 (IPv6) and, for an enabled pool, no shorter than the pool's
// prefix; vxlanMode and ipipMode are empty, Never, Always or CrossSubnet,
// not both enabled, and IP-in-IP is IPv4 only; nodeSelector is a valid
// selector; allowedUses are unique Workload, Tunnel or LoadBalancer, with
// LoadBalancer alone. The status is checked by ValidateIPPoolStatus and
// overlap with other pools by ValidateIPPoolOverlap.
func ValidateIPPool(pool *v3.IPPool) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	spec := &pool.Spec

	prefix, ok, cidrErrs := validateMaskedCIDR(specPath.Child("cidr"), spec.CIDR)
	errs = append(errs, cidrErrs...)
	if ok {
		for _, r := range reservedRanges() {
			if prefix.Overlaps(r.prefix) {
				errs = append(errs, field.Invalid(specPath.Child("cidr"), spec.CIDR,
					fmt.Sprintf("must not overlap the %s range %s", r.name, r.prefix)))
			}
		}
	}

	errs = append(errs, validateBlockSize(specPath.Child("blockSize"), spec, prefix, ok)...)

	errs = append(errs, validateEncapMode(specPath.Child("vxlanMode"), spec.VXLANMode)...)
	errs = append(errs, validateEncapMode(specPath.Child("ipipMode"), spec.IPIPMode)...)
	if encapEnabled(spec.IPIPMode) {
		if encapEnabled(spec.VXLANMode) {
			errs = append(errs, field.Invalid(specPath.Child("ipipMode"), spec.IPIPMode,
				fmt.Sprintf("IP-in-IP and VXLAN cannot both be enabled (vxlanMode is %q); set one of them to Never", spec.VXLANMode)))
		}
		if ok && prefix.Addr().Is6() {
			errs = append(errs, field.Invalid(specPath.Child("ipipMode"), spec.IPIPMode,
				"IP-in-IP is not supported on an IPv6 pool; use vxlanMode or set ipipMode to Never"))
		}
	}

	errs = append(errs, ValidateSelector(specPath.Child("nodeSelector"), spec.NodeSelector)...)
	errs = append(errs, validateAllowedUses(specPath.Child("allowedUses"), spec.AllowedUses)...)
	return errs
}

// ValidateIPPoolStatus validates the status of an IPPool (on updates of the
// status subresource): its conditions follow the metav1.Condition rules
// (unique types, valid status, reason and lastTransitionTime).
func ValidateIPPoolStatus(pool *v3.IPPool) field.ErrorList {
	return metav1validation.ValidateConditions(pool.Status.Conditions, field.NewPath("status", "conditions"))
}

// blockSizeRange returns the allowed block sizes and the default for the
// family of prefix.
func blockSizeRange(prefix netip.Prefix) (lo, hi, def int) {
	if prefix.Addr().Is4() {
		return minBlockSizeV4, maxBlockSizeV4, defaultBlockSizeV4
	}
	return minBlockSizeV6, maxBlockSizeV6, defaultBlockSizeV6
}

// effectiveBlockSize returns the block size a pool uses, with 0 replaced by
// its family's default; ok is false when the CIDR does not parse.
func effectiveBlockSize(spec *v3.IPPoolSpec) (int, bool) {
	p, err := netip.ParsePrefix(spec.CIDR)
	if err != nil {
		return spec.BlockSize, false
	}
	if spec.BlockSize != 0 {
		return spec.BlockSize, true
	}
	_, _, def := blockSizeRange(p)
	return def, true
}

// validateBlockSize checks the block size against the pool's family and,
// for an enabled pool, its prefix length.
func validateBlockSize(fldPath *field.Path, spec *v3.IPPoolSpec, prefix netip.Prefix, cidrOK bool) field.ErrorList {
	bs := spec.BlockSize
	if !cidrOK {
		if bs != 0 && (bs < minBlockSizeV4 || bs > maxBlockSizeV4) && (bs < minBlockSizeV6 || bs > maxBlockSizeV6) {
			return field.ErrorList{field.Invalid(fldPath, bs, fmt.Sprintf("must be from %d to %d for an IPv4 pool or from %d to %d for an IPv6 pool",
				minBlockSizeV4, maxBlockSizeV4, minBlockSizeV6, maxBlockSizeV6))}
		}
		return nil
	}
	lo, hi, def := blockSizeRange(prefix)
	fam := familyName(familyOf(prefix.Addr()))
	if bs != 0 && (bs < lo || bs > hi) {
		return field.ErrorList{field.Invalid(fldPath, bs, fmt.Sprintf("must be from %d to %d for an %s pool (0 means the default, %d)", lo, hi, fam, def))}
	}
	eff := bs
	note := ""
	if bs == 0 {
		eff = def
		note = fmt.Sprintf(" (blockSize 0 means the %s default, %d)", fam, def)
	}
	if !spec.Disabled && eff < prefix.Bits() {
		return field.ErrorList{field.Invalid(fldPath, bs, fmt.Sprintf(
			"blocks of /%d do not fit in the pool %s%s: an enabled pool needs a blockSize of at least its prefix length %d",
			eff, prefix, note, prefix.Bits()))}
	}
	return nil
}

// validateEncapMode checks an encapsulation mode; empty means Never.
func validateEncapMode(fldPath *field.Path, m v3.EncapMode) field.ErrorList {
	switch m {
	case "", v3.EncapModeNever, v3.EncapModeAlways, v3.EncapModeCrossSubnet:
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, m, []v3.EncapMode{v3.EncapModeNever, v3.EncapModeAlways, v3.EncapModeCrossSubnet})}
}

// validateAllowedUses checks the uses of a pool.
func validateAllowedUses(fldPath *field.Path, uses []v3.IPPoolAllowedUse) field.ErrorList {
	var errs field.ErrorList
	seen := map[v3.IPPoolAllowedUse]bool{}
	for i, u := range uses {
		switch u {
		case v3.IPPoolAllowedUseWorkload, v3.IPPoolAllowedUseTunnel, v3.IPPoolAllowedUseLoadBalancer:
		default:
			errs = append(errs, field.NotSupported(fldPath.Index(i), u, []v3.IPPoolAllowedUse{
				v3.IPPoolAllowedUseWorkload, v3.IPPoolAllowedUseTunnel, v3.IPPoolAllowedUseLoadBalancer}))
			continue
		}
		if seen[u] {
			errs = append(errs, field.Duplicate(fldPath.Index(i), u))
		}
		seen[u] = true
	}
	if seen[v3.IPPoolAllowedUseLoadBalancer] && (seen[v3.IPPoolAllowedUseWorkload] || seen[v3.IPPoolAllowedUseTunnel]) {
		errs = append(errs, field.Invalid(fldPath, uses, "LoadBalancer cannot be combined with Workload or Tunnel"))
	}
	return errs
}

// ValidateIPPoolUpdate checks what an update of an IPPool may change:
// spec.cidr and spec.blockSize are immutable. A CIDR written differently but
// denoting the same network, and a blockSize of 0 against its family's
// default, count as unchanged. It does not repeat ValidateIPPool, which
// callers run on newObj as well.
func ValidateIPPoolUpdate(newObj, oldObj *v3.IPPool) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")

	newP, errN := netip.ParsePrefix(newObj.Spec.CIDR)
	oldP, errO := netip.ParsePrefix(oldObj.Spec.CIDR)
	sameCIDR := newObj.Spec.CIDR == oldObj.Spec.CIDR || (errN == nil && errO == nil && newP == oldP)
	if !sameCIDR {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newObj.Spec.CIDR, oldObj.Spec.CIDR, specPath.Child("cidr"))...)
	}

	newBS, _ := effectiveBlockSize(&newObj.Spec)
	oldBS, _ := effectiveBlockSize(&oldObj.Spec)
	if newBS != oldBS {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newObj.Spec.BlockSize, oldObj.Spec.BlockSize, specPath.Child("blockSize"))...)
	}
	return errs
}

// ValidateIPPoolOverlap checks that pool's CIDR overlaps none of others
// (pools with the same name as pool are skipped, so others may be the full
// list of stored pools). Disabled pools count. Pools mirrored from a remote
// cluster (labelled projectcalico.org/cluster) are skipped on either side:
// overlaps between clusters are checked by mesh admission. A pool whose
// CIDR does not parse is left to ValidateIPPool.
func ValidateIPPoolOverlap(pool *v3.IPPool, others []v3.IPPool) field.ErrorList {
	if isMirrored(pool.Labels) {
		return nil
	}
	p, err := netip.ParsePrefix(pool.Spec.CIDR)
	if err != nil {
		return nil
	}
	p = p.Masked()
	cidrPath := field.NewPath("spec", "cidr")
	var errs field.ErrorList
	for i := range others {
		o := &others[i]
		if o.Name == pool.Name || isMirrored(o.Labels) {
			continue
		}
		op, err := netip.ParsePrefix(o.Spec.CIDR)
		if err != nil {
			continue
		}
		if p.Overlaps(op.Masked()) {
			errs = append(errs, field.Invalid(cidrPath, pool.Spec.CIDR,
				fmt.Sprintf("overlaps IPPool %q (%s)", o.Name, o.Spec.CIDR)))
		}
	}
	return errs
}

// maxBlockAddresses is the most addresses an IPAMBlock that records its
// allocations may have (a /20 of IPv4, Calico's smallest blockSize).
const maxBlockAddresses = 4096

// ValidateIPAMBlock validates an IPAMBlock: spec.cidr is a strictly masked
// CIDR, spec.affinity, if set, is "host:<node name>" with a non-empty node
// name, and the allocation record, if any, is consistent: one allocations
// entry per address, each naming an attribute, and unallocated listing
// exactly the free ordinals once each.
func ValidateIPAMBlock(block *v3.IPAMBlock) field.ErrorList {
	specPath := field.NewPath("spec")
	cidr, ok, errs := validateMaskedCIDR(specPath.Child("cidr"), block.Spec.CIDR)
	if a := block.Spec.Affinity; a != nil {
		if node, ok := strings.CutPrefix(*a, "host:"); !ok || node == "" {
			errs = append(errs, field.Invalid(specPath.Child("affinity"), *a, `must be "host:<node name>"`))
		}
	}
	if ok && len(errs) == 0 {
		errs = append(errs, validateAllocations(specPath, cidr, &block.Spec)...)
	}
	return errs
}

// validateAllocations checks the allocation record of a block of cidr.
func validateAllocations(specPath *field.Path, cidr netip.Prefix, spec *v3.IPAMBlockSpec) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Allocations) == 0 {
		if len(spec.Unallocated) > 0 || len(spec.Attributes) > 0 {
			errs = append(errs, field.Required(specPath.Child("allocations"), "a block with unallocated or attributes must list allocations, one entry per address"))
		}
		return errs
	}
	hostBits := cidr.Addr().BitLen() - cidr.Bits()
	if hostBits > 12 {
		return append(errs, field.Invalid(specPath.Child("cidr"), spec.CIDR,
			fmt.Sprintf("a block that records allocations has at most %d addresses (a /%d)", maxBlockAddresses, cidr.Addr().BitLen()-12)))
	}
	size := 1 << hostBits
	allocPath := specPath.Child("allocations")
	if len(spec.Allocations) != size {
		return append(errs, field.Invalid(allocPath, len(spec.Allocations), fmt.Sprintf("must have one entry per address of %s (%d)", spec.CIDR, size)))
	}
	free := make([]bool, size)
	for i, a := range spec.Allocations {
		switch {
		case a == nil:
			free[i] = true
		case *a < 0 || *a >= len(spec.Attributes):
			errs = append(errs, field.Invalid(allocPath.Index(i), *a, fmt.Sprintf("must be the index of one of the %d attributes", len(spec.Attributes))))
		}
	}
	unallocPath := specPath.Child("unallocated")
	seen := make([]bool, size)
	for i, o := range spec.Unallocated {
		switch {
		case o < 0 || o >= size:
			errs = append(errs, field.Invalid(unallocPath.Index(i), o, fmt.Sprintf("must be an ordinal of the block, 0 to %d", size-1)))
		case seen[o]:
			errs = append(errs, field.Duplicate(unallocPath.Index(i), o))
		case !free[o]:
			errs = append(errs, field.Invalid(unallocPath.Index(i), o, fmt.Sprintf("is allocated (allocations[%d] = %d)", o, *spec.Allocations[o])))
		default:
			seen[o] = true
		}
	}
	for o := range size {
		if free[o] && !seen[o] {
			errs = append(errs, field.Invalid(unallocPath, o, fmt.Sprintf("ordinal %d is free (allocations[%d] is null) but not listed", o, o)))
			break
		}
	}
	return errs
}
