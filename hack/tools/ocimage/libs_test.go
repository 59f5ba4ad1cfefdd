package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseLdd(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []string
		wantErr string
	}{
		{
			name: "dynamic",
			out: "\tlinux-vdso.so.1 (0x00007ffc)\n" +
				"\tlibnftables.so.1 => /lib/x86_64-linux-gnu/libnftables.so.1 (0x00007f86)\n" +
				"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f86)\n" +
				"\t/lib64/ld-linux-x86-64.so.2 (0x00007f86)\n",
			want: []string{"/lib/x86_64-linux-gnu/libnftables.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"},
		},
		{name: "empty", out: "", want: nil},
		{name: "missing library", out: "\tlibfoo.so.1 => not found\n", wantErr: "library libfoo.so.1 not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLdd(tt.out)
			checkErr(t, err, tt.wantErr)
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseLdd = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSharedLibraries runs the host's ldd on a dynamic executable (the
// shell) and on a static one (this test binary, built without cgo when
// CGO_ENABLED=0; else skipped for that case).
func TestSharedLibraries(t *testing.T) {
	libs, err := sharedLibraries(context.Background(), "/bin/sh")
	if err != nil {
		t.Fatalf("sharedLibraries(/bin/sh): %v", err)
	}
	if !slices.ContainsFunc(libs, func(l string) bool { return strings.Contains(l, "libc.so") }) {
		t.Errorf("sharedLibraries(/bin/sh) = %q, want libc among them", libs)
	}
	if _, err := sharedLibraries(context.Background(), "/nonexistent/binary"); err == nil {
		t.Errorf("sharedLibraries(/nonexistent/binary): no error")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CGO_ENABLED") != "0" {
		t.Logf("static case checked only with CGO_ENABLED=0")
		return
	}
	if libs, err := sharedLibraries(context.Background(), self); err != nil || len(libs) != 0 {
		t.Errorf("sharedLibraries(static %s) = %q, %v; want none", self, libs, err)
	}
}
