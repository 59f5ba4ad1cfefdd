# meshapi — the two commands a newcomer needs are `make run` and `make test`.

.PHONY: run test build tools codegen verify-codegen bench install-plugin

## run: serve projectcalico.org/v3 standalone on an embedded etcd (data in ./meshapi-data)
run:
	go run ./cmd/meshapi-apiserver --standalone

## test: build kube-apiserver/kubectl, gofmt, vet, and run every test
test:
	hack/test.sh

## build: build meshapi's binaries into bin/
build:
	go build -o bin/ ./cmd/...

## tools: build the upstream kube-apiserver and kubectl into bin/
tools:
	hack/build-tools.sh

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
