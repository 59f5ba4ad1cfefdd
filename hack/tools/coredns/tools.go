//go:build tools

// Package tools pins CoreDNS, built from source by hack/build-tools.sh into
// bin/coredns and into the registry.k8s.io/coredns/coredns image.
package tools

import (
	_ "github.com/coredns/coredns"
)
