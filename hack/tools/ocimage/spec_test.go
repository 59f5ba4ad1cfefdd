package main

import (
	"strings"
	"testing"
)

func TestParseFileSpec(t *testing.T) {
	tests := []struct {
		arg     string
		want    fileSpec
		wantErr string
	}{
		{arg: "bin/pause:/pause", want: fileSpec{Src: "bin/pause", Dst: "/pause"}},
		{arg: "bin/pause:/pause:0755", want: fileSpec{Src: "bin/pause", Dst: "/pause", Mode: 0o755, HasMode: true}},
		{arg: "a:/x/../y/", want: fileSpec{Src: "a", Dst: "/y"}},
		{arg: "a", wantErr: "want SRC:DST[:MODE]"},
		{arg: "a:/b:0755:x", wantErr: "want SRC:DST[:MODE]"},
		{arg: ":/b", wantErr: "want SRC:DST[:MODE]"},
		{arg: "a:b", wantErr: `image path "b" is not absolute`},
		{arg: "a:/", wantErr: "is the root directory"},
		{arg: "a:/b:0855", wantErr: `mode "0855" is not an octal permission`},
		{arg: "a:/b:17777", wantErr: `mode "17777" is not an octal permission`},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := parseFileSpec(tt.arg)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("parseFileSpec(%q) = %+v, want %+v", tt.arg, got, tt.want)
			}
		})
	}
}

func TestParseBinarySpec(t *testing.T) {
	tests := []struct {
		arg     string
		want    fileSpec
		wantErr string
	}{
		{arg: "/usr/sbin/nft", want: fileSpec{Src: "/usr/sbin/nft", Dst: "/usr/sbin/nft"}},
		{arg: "/usr/sbin/nft:/sbin/nft", want: fileSpec{Src: "/usr/sbin/nft", Dst: "/sbin/nft"}},
		{arg: "nft", wantErr: "want an absolute host path"},
		{arg: "/usr/sbin/nft:sbin", wantErr: "is not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := parseBinarySpec(tt.arg)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("parseBinarySpec(%q) = %+v, want %+v", tt.arg, got, tt.want)
			}
		})
	}
}

func TestParseSymlinkAndDirSpec(t *testing.T) {
	tests := []struct {
		name    string
		parse   func() (any, error)
		want    any
		wantErr string
	}{
		{name: "symlink", parse: func() (any, error) { return parseSymlinkSpec("/agnhost-2:agnhost") },
			want: symlinkSpec{Link: "/agnhost-2", Target: "agnhost"}},
		{name: "symlink without target", parse: func() (any, error) { return parseSymlinkSpec("/agnhost-2") },
			wantErr: "want LINK:TARGET"},
		{name: "mkdir default mode", parse: func() (any, error) { return parseDirSpec("/uploads") },
			want: fileSpec{Dst: "/uploads", Mode: 0o755, HasMode: true}},
		{name: "mkdir sticky tmp", parse: func() (any, error) { return parseDirSpec("/tmp:1777") },
			want: fileSpec{Dst: "/tmp", Mode: 0o1777, HasMode: true}},
		{name: "mkdir bad mode", parse: func() (any, error) { return parseDirSpec("/tmp:rwx") },
			wantErr: `mode "rwx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse()
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// checkErr fails t unless err matches wantErr ("" meaning no error).
func checkErr(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("no error, want one containing %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %q does not contain %q", err, wantErr)
	}
}
