package agent

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestBGPOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend string
		args    []string
		wantBGP bool
		wantErr string
	}{
		{name: "off by default", wantBGP: false},
		{name: "on with calico_backend bird", backend: "bird", wantBGP: true},
		{name: "off with calico_backend vxlan", backend: "vxlan", wantBGP: false},
		{name: "flag turns it on", args: []string{"--bgp"}, wantBGP: true},
		{name: "flag turns bird off", backend: "bird", args: []string{"--bgp=false"}, wantBGP: false},
		{name: "not with --netns", args: []string{"--bgp", "--netns=node-a"}, wantBGP: true, wantErr: `--bgp runs the BGP speaker in the agent's own network namespace, so it cannot be combined with --netns "node-a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(BackendEnv, tc.backend)
			o := NewOptions()
			fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if o.BGP != tc.wantBGP {
				t.Errorf("BGP = %v, want %v", o.BGP, tc.wantBGP)
			}
			err := o.validateBGP()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("validateBGP: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("validateBGP: %v, want %q", err, tc.wantErr)
			}
		})
	}
}
