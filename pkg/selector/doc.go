// Package selector implements the Calico (projectcalico.org/v3) label
// selector language, as used by NetworkPolicy "selector", rule
// "selector"/"notSelector"/"namespaceSelector" and IPPool "nodeSelector".
//
// # Grammar
//
//	selector   = [ or ] EOF                     (empty input means all())
//	or         = and { "||" and }
//	and        = unary { "&&" unary }
//	unary      = { "!" } primary
//	primary    = "(" or ")"
//	           | "all" "(" ")" | "global" "(" ")" | "has" "(" label ")"
//	           | label comparison
//	comparison = "==" string | "!=" string
//	           | "in" set | ( "not" "in" | "notin" ) set
//	           | "contains" string
//	           | ( "starts" "with" | "startswith" ) string
//	           | ( "ends" "with" | "endswith" ) string
//	set        = "{" [ string { "," string } [ "," ] ] "}"
//	label      = [A-Za-z0-9_./-]+               (at most 512 characters)
//	string     = "'" { any byte except "'" } "'"
//	           | `"` { any byte except `"` } `"`
//
// "!" binds tightest, then "&&", then "||". Whitespace (space, tab, CR, LF,
// FF) between tokens is insignificant; as in Calico's tokenizer, the words of
// "not in", "starts with" and "ends with" may be separated by any amount of
// it, including none ("notin", "startswith", "endswith"). Keywords are recognised by position, so a
// label may be called "in", "has" or "all": "has == 'x'" is a comparison and
// "has(x)" a function call. String literals have no escape sequences, so a
// literal cannot contain both quote characters. A trailing comma in a set is
// accepted, as Calico does.
//
// # Semantics
//
// all() and global() match every label set. has(k) matches when k is present.
// "==", "in", "contains", "starts with" and "ends with" never match when the
// label is absent; "!=" and "not in" always match when the label is absent
// (Calico semantics). An empty set is allowed: "k in {}" matches nothing and
// "k not in {}" matches everything.
//
// # Canonical form
//
// Selector.String returns a canonical form that is deterministic and
// idempotent (parsing it yields a selector with the same String). The rules:
//
//   - One space on each side of every binary operator (==, !=, in, not in,
//     contains, starts with, ends with, &&, ||); no space after "!", inside
//     has(...) or inside parentheses; sets are written {"a", "b"} and {}.
//     An empty selector is written all().
//   - String literals use double quotes, unless the value contains a double
//     quote, in which case single quotes are used.
//   - Set members are sorted (byte order) and deduplicated.
//   - Runs of "!" are collapsed: an even number disappears, an odd number
//     becomes a single "!".
//   - Nested "&&" (and nested "||") chains are flattened, since both are
//     associative; operand order is otherwise preserved.
//   - Parentheses are emitted only where required: around an "||" chain that
//     is an operand of "&&" or "!", and around an "&&" chain that is the
//     operand of "!". A negated comparison is therefore written
//     !a == "x", which means !(a == "x").
//   - global() is kept as global() (it is not rewritten to all()).
//
// Selector.UniqueID is the hex SHA-256 of the canonical form, so two
// selectors with the same canonical form share an ID.
//
// # Evaluation
//
// Parse compiles a selector to a flat branching program: one instruction per
// label test, each with a jump target for either outcome; negations swap
// the targets and cost nothing at run time. Evaluate takes a plain label
// map and costs one map lookup per test reached. When the same labels are
// evaluated by many selectors, InternLabels turns them into Labels once,
// and EvaluateLabels (LabelsEvaluator) then compares unique.Handles instead
// of hashing and comparing strings.
//
// # Index
//
// Index keeps a set of selectors and a set of labelled items and reports,
// through callbacks, when a selector starts or stops matching an item. When an
// item's labels change it only re-evaluates selectors that read a changed key
// and, for "==" / "in" conditions, accept its old or new value. When a
// selector is added it only evaluates the items that can satisfy its
// requirements (Requirer): for `app == "x" && has(b)`, the items whose app is
// "x"; for `a == "x" || b == "y"`, those whose a is "x" or whose b is "y". A
// selector that matches the empty label set (all(), !has(a), a != "x") is
// evaluated against every item.
//
// Nothing in this package uses global mutable state. Parsed selectors are
// immutable and safe for concurrent use; an Index is not.
package selector
