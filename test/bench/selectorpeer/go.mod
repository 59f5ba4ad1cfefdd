module github.com/meshapi/meshapi/test/bench/selectorpeer

go 1.26.8

require (
	github.com/meshapi/meshapi v0.0.0
	github.com/projectcalico/calico v1.11.0-cni-plugin.0.20250813170300-a0db560f0520
)

require (
	github.com/sirupsen/logrus v1.10.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/meshapi/meshapi => ../../..
