//go:build tools

// Package tools pins the upstream Kubernetes programs meshapi tests
// against, so that go mod tidy keeps what they import: the control plane,
// the node components and agnhost (a program, built by path). The e2e
// suite's imports are kept by hack/tools/e2e's test file.
package tools

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-proxy/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
