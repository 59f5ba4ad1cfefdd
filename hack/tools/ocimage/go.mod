// Module ocimage builds bin/ocimage, which writes the container images of
// meshapi's end-to-end clusters from local files. It is its own module so
// that go-containerregistry's dependencies never move the versions that
// k8s.io/kubernetes is built with in hack/tools.
module github.com/meshapi/meshapi/hack/tools/ocimage

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
