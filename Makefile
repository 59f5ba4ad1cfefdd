# meshapi — the two commands a newcomer needs are `make run` and `make test`.

.PHONY: run run-api test build tools upstream-e2e codegen verify-codegen bench install-plugin

## run: the mesh on this machine (as root): cluster-a and cluster-b, two network-namespace nodes each, bookinfo, connected; Ctrl-C removes it all
run:
	@if [ "$$(id -u)" != 0 ]; then echo "make run: the demo's nodes and pods are network namespaces, which need root: run sudo make run, or make run-api for the API server alone"; exit 1; fi
	@if [ ! -x bin/kube-apiserver ] || [ ! -x bin/kube-controller-manager ] || [ ! -x bin/kubectl ]; then \
		echo "make run: first run: building kube-apiserver, kube-controller-manager and kubectl into bin/ (about 12 minutes cold on two cores, once)"; \
		hack/build-tools.sh control-plane; \
	fi
	@go build -o meshapi-demo/bin/ ./cmd/meshapi-demo
	@meshapi-demo/bin/meshapi-demo

## run-api: serve projectcalico.org/v3 standalone on an embedded etcd (data in ./meshapi-data)
run-api:
	go run ./cmd/meshapi-apiserver --standalone

## test: build the upstream programs the tests run (hack/build-tools.sh and its e2e.test step), gofmt, vet, and run every test, the real-node and upstream [sig-network] subset among them (as root)
test:
	hack/test.sh

## build: build meshapi's binaries into bin/
build:
	go build -o bin/ ./cmd/...

## tools: build from source into bin/ every upstream program the e2e clusters run (kube-apiserver, kube-controller-manager, kubectl, kubelet, kube-proxy, kube-scheduler, containerd, CoreDNS, etcd) and their images (bin/images)
tools:
	hack/build-tools.sh

## upstream-e2e: upstream's [sig-network] e2e specs a single-node CNI can pass (hack/upstream-e2e.sh --full --procs 3: three parallel ginkgo processes) against a meshapi cluster with a real node it starts and stops (as root; after make tools and hack/build-tools.sh e2e.test)
upstream-e2e:
	hack/upstream-e2e.sh --full --procs 3

## codegen: regenerate clients, deepcopy, defaulters and OpenAPI
codegen:
	hack/update-codegen.sh

## verify-codegen: fail if generated code is stale
verify-codegen:
	hack/verify-codegen.sh

## bench: the API server benchmarks behind BENCHMARKS.md
bench:
	go test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./test/bench/

## install-plugin: build meshctl into bin/ and link bin/kubectl-mesh to it ("kubectl mesh" with bin/ on the PATH)
install-plugin:
	go build -o bin/ ./cmd/meshctl
	bin/meshctl install-plugin --dir bin
