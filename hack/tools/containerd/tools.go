//go:build tools

// Package tools pins containerd v2 (the daemon, its runc shim and the ctr
// client), built from source by hack/build-tools.sh.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
