package meshctl

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/policy"
)

// PolicyResult is what policy prints with -o yaml|json.
type PolicyResult struct {
	// Policy is "<namespace>/<name>" for a NetworkPolicy, "<name>" for a
	// GlobalNetworkPolicy.
	Policy string `json:"policy"`
	// Tier is the policy's tier.
	Tier string `json:"tier"`
	// AppliesTo are the local endpoints the policy's selector selects.
	AppliesTo []EvalEndpoint `json:"appliesTo"`
	// Rules are the rule ends with selectors and what they select.
	Rules []PolicyRuleMatch `json:"rules"`
}

// PolicyRuleMatch is one end of one rule with selector criteria.
type PolicyRuleMatch struct {
	// Rule is "<direction> rule <index>" with the action; empty when the
	// policy applies to no endpoint and rules are shown by selector only.
	Rule string `json:"rule,omitempty"`
	// Side is source or destination.
	Side string `json:"side,omitempty"`
	// Selector is the scope and selector criteria.
	Selector string `json:"selector"`
	// Endpoints are the local and remote endpoints the criteria select.
	Endpoints []EvalEndpoint `json:"endpoints"`
}

func newPolicyCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "policy NAMESPACE/NAME | NAME",
		Short: "List the local endpoints a policy applies to and the local and remote endpoints its rules select",
		Long: `policy shows a NetworkPolicy (NAMESPACE/NAME) or GlobalNetworkPolicy
(NAME) as the dataplane applies it: the local endpoints its selector
selects, and, for each rule's source and destination with selector
criteria, the endpoints, local and mirrored from remote clusters (prefixed
with their cluster), whose addresses the rule matches. As in the original
product, a policy's own selector only selects local endpoints, while rule
selectors select remote endpoints too.`,
		Example: `  meshctl policy myapp/default.app-to-db
  meshctl policy default.deny-all --context cluster-a -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, err := o.clusters()
			if err != nil {
				return err
			}
			if len(cs) != 1 {
				return fmt.Errorf("policy reads one cluster: give at most one --context, not %d", len(cs))
			}
			res, err := explainPolicy(cmd.Context(), cs[0].client, args[0])
			if err != nil {
				return err
			}
			if done, err := o.printStructured(res); done {
				return err
			}
			return o.printPolicy(res)
		},
	}
}

// policyInput is what explainPolicy reads from the cluster.
type policyInput struct {
	endpoints []policy.Endpoint
	names     map[string]EvalEndpoint
	profiles  []policy.Profile
	tiers     []policy.Tier
	target    policy.Policy
}

// explainPolicy reads the cluster and resolves the policy named arg.
func explainPolicy(ctx context.Context, client versioned.Interface, arg string) (*PolicyResult, error) {
	in := policyInput{names: map[string]EvalEndpoint{}}
	c := client.ProjectcalicoV3()
	if ns, name, ok := strings.Cut(arg, "/"); ok {
		np, err := c.NetworkPolicies(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s: %w", arg, err)
		}
		in.target = policy.PolicyFromNetworkPolicy(np)
	} else {
		gnp, err := c.GlobalNetworkPolicies().Get(ctx, arg, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("GlobalNetworkPolicy %s (give NAMESPACE/NAME for a NetworkPolicy): %w", arg, err)
		}
		in.target = policy.PolicyFromGlobalNetworkPolicy(gnp)
	}
	profiles, err := c.Profiles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing profiles: %w", err)
	}
	for i := range profiles.Items {
		in.profiles = append(in.profiles, policy.ProfileFromV3(&profiles.Items[i]))
	}
	tiers, err := c.Tiers().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing tiers: %w", err)
	}
	for i := range tiers.Items {
		in.tiers = append(in.tiers, policy.TierFromV3(&tiers.Items[i]))
	}
	weps, err := c.WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing workload endpoints: %w", err)
	}
	for i := range weps.Items {
		ep := policy.EndpointFromWorkloadEndpoint(&weps.Items[i])
		in.endpoints = append(in.endpoints, ep)
		in.names[ep.Key] = workloadEndpoint(&weps.Items[i])
	}
	heps, err := c.HostEndpoints().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing host endpoints: %w", err)
	}
	for i := range heps.Items {
		ep := policy.EndpointFromHostEndpoint(&heps.Items[i])
		in.endpoints = append(in.endpoints, ep)
		in.names[ep.Key] = hostEndpoint(&heps.Items[i])
	}
	return resolvePolicy(in)
}

// resolvePolicy feeds a policy.State with the endpoints, profiles, tiers
// and the one policy, and reads what the policy applies to and selects.
func resolvePolicy(in policyInput) (*PolicyResult, error) {
	st, err := policyState(in)
	if err != nil {
		return nil, err
	}
	idx := newEndpointIndex(in)
	res := &PolicyResult{Policy: in.target.Key, Tier: in.target.Tier, AppliesTo: []EvalEndpoint{}, Rules: []PolicyRuleMatch{}}
	if res.Tier == "" {
		res.Tier = "default"
	}
	selected := st.SelectedEndpoints(in.target.Key)
	for _, key := range selected {
		res.AppliesTo = append(res.AppliesTo, in.names[key])
	}
	sortEndpoints(res.AppliesTo)
	applied := appliedPolicy(st, in.target.Key, selected)
	if applied == nil {
		// Applies to nothing (or its tier does not exist): the sets of its
		// rules, by selector.
		for _, id := range st.SetIDs() {
			sel, _ := st.SetSelector(id)
			res.Rules = append(res.Rules, PolicyRuleMatch{Selector: sel, Endpoints: idx.endpointsOf(st.SetMembers(id))})
		}
		return res, nil
	}
	res.Rules = ruleMatches(st, idx, applied)
	return res, nil
}

// policyState is a policy.State of in's profiles, tiers, endpoints and
// target policy.
func policyState(in policyInput) (*policy.State, error) {
	st := policy.NewState(policy.Callbacks{})
	for _, p := range in.profiles {
		st.UpsertProfile(p)
	}
	for _, t := range in.tiers {
		st.UpsertTier(t)
	}
	for _, ep := range in.endpoints {
		st.UpsertEndpoint(ep)
	}
	if err := st.UpsertPolicy(in.target); err != nil {
		return nil, fmt.Errorf("policy %s: %w", in.target.Key, err)
	}
	return st, nil
}

// appliedPolicy is the policy key as the state applies it to the first
// of the selected endpoints that has it, nil when none does.
func appliedPolicy(st *policy.State, key string, selected []string) *policy.AppliedPolicy {
	for _, ep := range selected {
		for _, ap := range st.PoliciesFor(ep) {
			if ap.Key == key {
				return &ap
			}
		}
	}
	return nil
}

// ruleMatches lists, for every rule of applied with a selector on a
// side, the endpoints that selector matches.
func ruleMatches(st *policy.State, idx endpointIndex, applied *policy.AppliedPolicy) []PolicyRuleMatch {
	out := []PolicyRuleMatch{}
	for _, group := range []struct {
		dir   string
		rules []policy.RuleMatch
	}{{"Ingress", applied.Ingress}, {"Egress", applied.Egress}} {
		for i, r := range group.rules {
			for _, side := range []struct {
				name string
				e    policy.Entity
			}{{"source", r.Source}, {"destination", r.Destination}} {
				if !side.e.HasSelector {
					continue
				}
				sel, _ := st.SetSelector(side.e.SetID)
				out = append(out, PolicyRuleMatch{Rule: fmt.Sprintf("%s rule %d (%s)", group.dir, i, r.Action), Side: side.name,
					Selector: sel, Endpoints: idx.endpointsOf(side.e.SelectorIPs)})
			}
		}
	}
	return out
}

// endpointIndex finds the endpoints of addresses.
type endpointIndex struct {
	byIP  map[netip.Prefix][]string
	names map[string]EvalEndpoint
}

// newEndpointIndex indexes in's endpoints by address.
func newEndpointIndex(in policyInput) endpointIndex {
	idx := endpointIndex{byIP: map[netip.Prefix][]string{}, names: in.names}
	for _, ep := range in.endpoints {
		for _, ip := range ep.IPs {
			idx.byIP[ip.Masked()] = append(idx.byIP[ip.Masked()], ep.Key)
		}
	}
	return idx
}

// endpointsOf are the endpoints holding ips, each once, sorted.
func (idx endpointIndex) endpointsOf(ips []netip.Prefix) []EvalEndpoint {
	seen := map[string]bool{}
	out := []EvalEndpoint{}
	for _, ip := range ips {
		for _, key := range idx.byIP[ip.Masked()] {
			if !seen[key] {
				seen[key] = true
				out = append(out, idx.names[key])
			}
		}
	}
	sortEndpoints(out)
	return out
}

// printPolicy prints the policy as a list, calicoq style.
func (o *options) printPolicy(res *PolicyResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Policy %s (tier %s) applies to %d local endpoints:\n", res.Policy, res.Tier, len(res.AppliesTo))
	for _, e := range res.AppliesTo {
		fmt.Fprintf(&b, "  %s %s\n", e.Kind, e.Name)
	}
	if len(res.AppliesTo) == 0 && len(res.Rules) > 0 {
		fmt.Fprintf(&b, "Its rules' selectors select:\n")
	}
	for _, r := range res.Rules {
		if r.Rule != "" {
			fmt.Fprintf(&b, "%s, %s %s selects %d endpoints:\n", r.Rule, r.Side, r.Selector, len(r.Endpoints))
		} else {
			fmt.Fprintf(&b, "%s selects %d endpoints:\n", r.Selector, len(r.Endpoints))
		}
		for _, e := range r.Endpoints {
			fmt.Fprintf(&b, "  %s %s\n", e.Kind, e.Name)
		}
	}
	_, err := fmt.Fprint(o.out, b.String())
	return err
}
