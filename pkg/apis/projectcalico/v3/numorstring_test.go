package v3

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestProtocolJSONRoundTrip(t *testing.T) {
	cases := []struct {
		name          string
		in            string
		want          Protocol
		wantString    string
		supportsPorts bool
		out           string
	}{
		{name: "TCP by number", in: `6`, want: ProtocolFromInt(6), wantString: "6", supportsPorts: true, out: `6`},
		{name: "UDP by number", in: `17`, want: ProtocolFromInt(17), wantString: "17", supportsPorts: true, out: `17`},
		{name: "SCTP by number", in: `132`, want: ProtocolFromInt(132), wantString: "132", supportsPorts: true, out: `132`},
		{name: "UDPLite by number", in: `136`, want: ProtocolFromInt(136), wantString: "136", supportsPorts: true, out: `136`},
		{name: "ICMP by number", in: `1`, want: ProtocolFromInt(1), wantString: "1", out: `1`},
		{name: "number zero", in: `0`, want: ProtocolFromInt(0), wantString: "0", out: `0`},
		{name: "largest number", in: `255`, want: ProtocolFromInt(255), wantString: "255", out: `255`},
		{name: "TCP by name", in: `"TCP"`, want: ProtocolFromString(ProtocolTCP), wantString: "TCP", supportsPorts: true, out: `"TCP"`},
		{name: "lower-case name keeps its spelling", in: `"udp"`, want: ProtocolFromString("udp"), wantString: "udp", supportsPorts: true, out: `"udp"`},
		{name: "UDPLite by name", in: `"UDPLite"`, want: ProtocolFromString(ProtocolUDPLite), wantString: "UDPLite", supportsPorts: true, out: `"UDPLite"`},
		{name: "ICMPv6 by name", in: `"ICMPv6"`, want: ProtocolFromString(ProtocolICMPv6), wantString: "ICMPv6", out: `"ICMPv6"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got Protocol
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatalf("unmarshal %s: %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("unmarshal %s = %#v, want %#v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.wantString {
				t.Errorf("String() = %q, want %q", s, tc.wantString)
			}
			if sp := got.SupportsPorts(); sp != tc.supportsPorts {
				t.Errorf("SupportsPorts() = %v, want %v", sp, tc.supportsPorts)
			}
			out, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(out) != tc.out {
				t.Errorf("marshal = %s, want %s", out, tc.out)
			}
		})
	}
}

func TestProtocolJSONErrors(t *testing.T) {
	for _, in := range []string{`256`, `70000`, `-1`, `6.5`, `true`, `[]`, `{}`} {
		t.Run(in, func(t *testing.T) {
			var p Protocol
			err := json.Unmarshal([]byte(in), &p)
			if err == nil {
				t.Fatalf("unmarshal %s = %#v, want an error", in, p)
			}
			if want := "protocol must be a name or a number from 0 to 255: " + in; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q, want it to contain %q", err, want)
			}
		})
	}
}

func TestProtocolSupportsPorts(t *testing.T) {
	cases := []struct {
		p    Protocol
		want bool
	}{
		{ProtocolFromString(ProtocolTCP), true},
		{ProtocolFromString(ProtocolUDP), true},
		{ProtocolFromString(ProtocolSCTP), true},
		{ProtocolFromString(ProtocolUDPLite), true},
		{ProtocolFromString("sctp"), true},
		{ProtocolFromString("udplite"), true},
		{ProtocolFromString(ProtocolICMP), false},
		{ProtocolFromString(ProtocolICMPv6), false},
		{ProtocolFromString("GRE"), false},
		{ProtocolFromString(""), false},
		{ProtocolFromInt(6), true},
		{ProtocolFromInt(17), true},
		{ProtocolFromInt(132), true},
		{ProtocolFromInt(136), true},
		{ProtocolFromInt(1), false},
		{ProtocolFromInt(58), false},
		{ProtocolFromInt(47), false},
		{ProtocolFromInt(0), false},
	}
	for _, tc := range cases {
		if got := tc.p.SupportsPorts(); got != tc.want {
			t.Errorf("%q.SupportsPorts() = %v, want %v", tc.p.String(), got, tc.want)
		}
	}
}

func TestProtocolString(t *testing.T) {
	cases := []struct {
		p    Protocol
		want string
	}{
		{ProtocolFromString(ProtocolTCP), "TCP"},
		{ProtocolFromString("icmp"), "icmp"},
		{ProtocolFromInt(58), "58"},
		{ProtocolFromInt(0), "0"},
		{Protocol{}, ""},
	}
	for _, tc := range cases {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestPortJSONRoundTrip(t *testing.T) {
	cases := []struct {
		name       string
		in         string
		want       Port
		wantString string
		out        string
	}{
		{name: "number", in: `5432`, want: SinglePort(5432), wantString: "5432", out: `5432`},
		// A quoted number is parsed like any port string: it becomes the
		// single port and is written back as a number.
		{name: "quoted number", in: `"5432"`, want: SinglePort(5432), wantString: "5432", out: `5432`},
		{name: "range", in: `"8000:8080"`, want: PortRange(8000, 8080), wantString: "8000:8080", out: `"8000:8080"`},
		{name: "named port", in: `"http"`, want: NamedPort("http"), wantString: "http", out: `"http"`},
		{name: "zero", in: `0`, want: SinglePort(0), wantString: "0", out: `0`},
		{name: "largest port", in: `65535`, want: SinglePort(65535), wantString: "65535", out: `65535`},
		{name: "one-port range is a single port", in: `"80:80"`, want: SinglePort(80), wantString: "80", out: `80`},
		// Ordering of the ends is left to validation.
		{name: "reversed range", in: `"8080:8000"`, want: PortRange(8080, 8000), wantString: "8080:8000", out: `"8080:8000"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got Port
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatalf("unmarshal %s: %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("unmarshal %s = %#v, want %#v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.wantString {
				t.Errorf("String() = %q, want %q", s, tc.wantString)
			}
			out, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(out) != tc.out {
				t.Errorf("marshal = %s, want %s", out, tc.out)
			}
			var again Port
			if err := json.Unmarshal(out, &again); err != nil || again != got {
				t.Errorf("unmarshal of the re-encoding %s = %#v, %v; want %#v", out, again, err, got)
			}
		})
	}
}

func TestPortJSONErrors(t *testing.T) {
	const numberMsg = `port must be a number from 0 to 65535, a range "min:max" or a name`
	cases := []struct {
		in      string
		wantMsg string
	}{
		{`70000`, numberMsg},
		{`65536`, numberMsg},
		{`-1`, numberMsg},
		{`80.5`, numberMsg},
		{`true`, numberMsg},
		{`{}`, numberMsg},
		{`"abc:def"`, `port range "abc:def": both ends must be numbers from 0 to 65535`},
		{`"8000:70000"`, `port range "8000:70000"`},
		{`"70000"`, `port "70000": a number must be from 0 to 65535`},
		{`""`, "empty port"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var p Port
			err := json.Unmarshal([]byte(tc.in), &p)
			if err == nil {
				t.Fatalf("unmarshal %s = %#v, want an error", tc.in, p)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestParsePort(t *testing.T) {
	cases := []struct {
		in      string
		want    Port
		wantErr string
	}{
		{in: "80", want: SinglePort(80)},
		{in: "0", want: SinglePort(0)},
		{in: "65535", want: SinglePort(65535)},
		{in: "8000:8080", want: PortRange(8000, 8080)},
		{in: "0:65535", want: PortRange(0, 65535)},
		{in: "http", want: NamedPort("http")},
		{in: "metrics-port", want: NamedPort("metrics-port")},
		{in: "", wantErr: "empty port"},
		{in: "65536", wantErr: `port "65536": a number must be from 0 to 65535`},
		{in: "8080x", wantErr: `port "8080x": a number must be from 0 to 65535`},
		{in: "abc:def", wantErr: `port range "abc:def": both ends must be numbers`},
		{in: "8000:", wantErr: `port range "8000:"`},
		{in: ":8080", wantErr: `port range ":8080"`},
		{in: "1:2:3", wantErr: `port range "1:2:3"`},
		{in: "http:80", wantErr: `port range "http:80"`},
		{in: "-1:80", wantErr: `port range "-1:80"`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePort(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePort(%q) = %#v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePort(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParsePort(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			// Parsing what String writes gives the same port back.
			if again, err := ParsePort(got.String()); err != nil || again != got {
				t.Errorf("ParsePort(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
		})
	}
}

func TestPortString(t *testing.T) {
	cases := []struct {
		p    Port
		want string
	}{
		{SinglePort(443), "443"},
		{PortRange(1, 1024), "1:1024"},
		{PortRange(9, 9), "9"},
		{NamedPort("dns"), "dns"},
		{Port{}, "0"},
	}
	for _, tc := range cases {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestRuleYAMLRoundTrip(t *testing.T) {
	const in = `{action: Allow, protocol: TCP, destination: {selector: "app == 'postgres'", ports: [5432, "8000:8080", http]}}`
	tcp := ProtocolFromString(ProtocolTCP)
	want := Rule{
		Action:   Allow,
		Protocol: &tcp,
		Destination: EntityRule{
			Selector: "app == 'postgres'",
			Ports:    []Port{SinglePort(5432), PortRange(8000, 8080), NamedPort("http")},
		},
	}
	var got Rule
	if err := yaml.UnmarshalStrict([]byte(in), &got); err != nil {
		t.Fatalf("decoding the rule: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded rule\n%#v\nwant\n%#v", got, want)
	}

	out, err := yaml.Marshal(got)
	if err != nil {
		t.Fatalf("encoding the rule: %v", err)
	}
	// The encoding is the input, with sorted keys and block style, plus
	// "source: {}": the struct-valued source is written even when empty,
	// as encoding/json ignores omitempty on structs.
	const wantOut = `action: Allow
destination:
  ports:
  - 5432
  - 8000:8080
  - http
  selector: app == 'postgres'
protocol: TCP
source: {}
`
	if string(out) != wantOut {
		t.Errorf("encoded rule\n%s\nwant\n%s", out, wantOut)
	}
	// Both documents mean the same rule.
	inJSON, err := yaml.YAMLToJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	outJSON, err := yaml.YAMLToJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	var inDoc, outDoc map[string]any
	if err := json.Unmarshal(inJSON, &inDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(outJSON, &outDoc); err != nil {
		t.Fatal(err)
	}
	inDoc["source"] = map[string]any{}
	if !reflect.DeepEqual(inDoc, outDoc) {
		t.Errorf("encoded document %v, want the input %v", outDoc, inDoc)
	}
	var again Rule
	if err := yaml.UnmarshalStrict(out, &again); err != nil {
		t.Fatalf("decoding the encoded rule: %v", err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Errorf("re-decoded rule\n%#v\nwant\n%#v", again, want)
	}
}

func TestNumOrStringEdgeCases(t *testing.T) {
	six := uint8(6)
	for _, tc := range []struct {
		in   string
		want Protocol
	}{
		{`"6"`, Protocol{Number: &six}},
		{`null`, Protocol{}},
	} {
		var p Protocol
		if err := json.Unmarshal([]byte(tc.in), &p); err != nil {
			t.Fatalf("protocol %s: %v", tc.in, err)
		}
		if p.String() != tc.want.String() || (p.Number == nil) != (tc.want.Number == nil) {
			t.Errorf("protocol %s = %#v, want %#v", tc.in, p, tc.want)
		}
	}
	var ports []Port
	if err := json.Unmarshal([]byte(`[null, 80]`), &ports); err != nil || ports[0] != (Port{}) || ports[1] != SinglePort(80) {
		t.Errorf("ports [null, 80] = %v, %v", ports, err)
	}
	for _, bad := range []string{`"-1"`, `"+80"`, `" 80"`, `"a b"`} {
		var p Port
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("port %s accepted as %#v", bad, p)
		}
	}
}
