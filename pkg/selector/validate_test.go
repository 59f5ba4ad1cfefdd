package selector

import "testing"

// TestValidateDoesNotAllocate checks that validating a valid selector
// builds nothing on the heap.
func TestValidateDoesNotAllocate(t *testing.T) {
	for _, s := range []string{
		`a == "b"`,
		`a in {'x','y','z'} && has(b) && c != 'd'`,
		`app == "postgres" && (tier in {"backend", "db", "storage"} || !has(canary)) && version != "v1"`,
		`!(a notin {'x'} || b startswith 'y') && c ends  with 'z' && all() || global()`,
	} {
		if allocs := testing.AllocsPerRun(100, func() { _ = Validate(s) }); allocs != 0 {
			t.Errorf("Validate(%q) allocates %v times, want 0", s, allocs)
		}
	}
}
