package framework

import (
	"slices"
	"testing"
)

func TestSummarizeKlogErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  string
		want []string
	}{
		{name: "no errors", log: `I1203 00:12:34.567890   12345 syncer.go:420] "Sending in-sync update"` + "\n", want: nil},
		{
			name: "the same error of several keys is one line",
			log: `E1203 00:12:34.567890   12345 syncer.go:334] "Mirroring" err="Put \"https://127.0.0.1:1/x\": EOF" remoteCluster="fx-b" kind="WorkloadEndpoint" key="faults/a"
E1203 00:12:34.600000   12345 syncer.go:334] "Mirroring" err="Put \"https://127.0.0.1:1/x\": EOF" remoteCluster="fx-b" kind="WorkloadEndpoint" key="faults/b"
I1203 00:12:35.000000   12345 syncer.go:420] "Sending in-sync update"
E1203 00:12:36.000000   12345 controller.go:377] "Writing RemoteClusterConfiguration status" err="conflict" name="fx-b"
`,
			want: []string{`2× Mirroring: Put "https://127.0.0.1:1/x": EOF`, "1× Writing RemoteClusterConfiguration status: conflict"},
		},
		{
			name: "a message without err",
			log:  `E1203 00:12:34.567890   12345 main.go:1] "Lost the lease"` + "\n",
			want: []string{"1× Lost the lease"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SummarizeKlogErrors(tc.log); !slices.Equal(got, tc.want) {
				t.Errorf("SummarizeKlogErrors:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
