#!/usr/bin/env bash
# Builds into bin/, from source, every upstream program the end-to-end
# clusters run, and the container images their nodes run, for the tests.
# Nothing is downloaded as a binary and no image is pulled:
#
#   kube-apiserver kube-controller-manager kubectl   the control plane
#   kubelet kube-proxy kube-scheduler                real nodes (k8s.io/kubernetes,
#                                                    hack/tools/go.mod)
#   containerd containerd-shim-runc-v2 ctr           the node runtime
#                                                    (hack/tools/containerd/go.mod)
#   coredns                                          cluster DNS (hack/tools/coredns/go.mod)
#   etcd                                             a real etcd server, for clusters whose
#                                                    meshapi etcd has three members (the
#                                                    main go.mod's go.etcd.io/etcd/server/v3)
#   ocimage                                          the image writer (hack/tools/ocimage)
#   images                                           bin/images/*.tar and images.txt
#   e2e.test                                         upstream's [sig-network] e2e suite and the ginkgo CLI
#
# Usage: hack/build-tools.sh [STEP...] with the steps control-plane (the
# first three), node (the next three), containerd, coredns, etcd, ocimage,
# images and e2e.test; no STEP builds all but e2e.test, in that order. runc is
# not built: the nodes use Debian's (apt-get install runc). The images need
# gcc with a static libc (the pause image), nft (kube-proxy's), for
# agnhost's shell tools curl, dig (bind9-dnsutils), nc (netcat-openbsd) and
# wget, the static BusyBox (busybox-static: the busybox image) and nginx
# (the nginx image).
#
# Idempotent. Each step prints its durations. Measured on two cores shared
# with other builds (load 13-27), each step in order (TOOLS_BIN=DIR,
# empty GOCACHE and GOMODCACHE, nice): cold control-plane 21.5 min
# (kube-apiserver 16), node 8, containerd 3.3, coredns 2.7, ocimage and
# images 0.6, e2e.test 8.4: 45 minutes; warm (every binary relinked)
# 86 s, 85, 23, 29, 4, 36 and 57: 5.3 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# TOOLS_BIN builds elsewhere than bin/ (e.g. to measure a cold build
# without replacing the binaries tests are using).
out=${TOOLS_BIN:-$root/bin}
tools="$root/hack/tools"
mkdir -p "$out"
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"

# say prints one progress line.
say() { echo "hack/build-tools.sh: $*"; }

# timed NAME CMD... runs CMD and says how long NAME took.
timed() {
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  say "$name built in $(( $(date +%s) - start ))s"
}

# go_build_to BIN ARGS... builds into bin/BIN through a temporary file, so a
# failed or interrupted build never leaves a broken binary that a running
# test could pick up.
go_build_to() {
  local bin=$1
  shift
  go build -trimpath -o "$out/.$bin.tmp" "$@"
  mv -f "$out/.$bin.tmp" "$out/$bin"
}

# kube_ldflags stamps the binaries with the version they are built from, as
# the upstream release does, so that version skew checks, discovery and the
# nodes report v1.37.2 (else v0.0.0-master).
kube_ldflags() {
  local version minor flags="" pkg
  version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$version" | cut -d. -f2)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

# download_modules_of DIR downloads the dependencies of the module in DIR
# first, so that a refused download names itself instead of failing inside
# a build.
download_modules_of() {
  say "downloading the modules of ${1#"$root"/} (cold: about a minute)"
  (cd "$1" && hack::download_modules)
}

# build_kube TOOL... builds the named programs of k8s.io/kubernetes.
build_kube() {
  download_modules_of "$tools"
  cd "$tools"
  local ldflags tool
  ldflags=$(kube_ldflags)
  for tool in "$@"; do
    say "building $tool (cold: minutes, the first one the longest; warm: seconds)"
    timed "$tool" go_build_to "$tool" -ldflags "$ldflags" "./$tool"
    say "$tool: $("$out/$tool" --version 2>/dev/null || "$out/$tool" version --client 2>/dev/null | head -1)"
  done
}

# containerd's own Makefile builds with these tags: no_btrfs because the
# btrfs snapshotter needs cgo, no_grpc for the shim, which speaks ttrpc.
step_containerd() {
  download_modules_of "$tools/containerd"
  cd "$tools/containerd"
  local pkg=github.com/containerd/containerd/v2 version ldflags
  version=$(go list -m -f '{{.Version}}' "$pkg")
  ldflags="-X $pkg/version.Version=$version -X $pkg/version.Package=$pkg"
  say "building containerd-shim-runc-v2 (cold: a few minutes)"
  CGO_ENABLED=0 timed containerd-shim-runc-v2 go_build_to containerd-shim-runc-v2 \
    -tags "urfave_cli_no_docs no_grpc" -ldflags "$ldflags" "$pkg/cmd/containerd-shim-runc-v2"
  local bin
  for bin in containerd ctr; do
    say "building $bin (cold: containerd up to 15 min, ctr 1; warm: seconds)"
    CGO_ENABLED=0 timed "$bin" go_build_to "$bin" \
      -tags "urfave_cli_no_docs no_btrfs" -ldflags "$ldflags" "$pkg/cmd/$bin"
    say "$bin: $("$out/$bin" --version)"
  done
  command -v runc >/dev/null || say "note: runc is not installed; the nodes need it (apt-get install runc)"
}

step_coredns() {
  download_modules_of "$tools/coredns"
  cd "$tools/coredns"
  say "building coredns (only the plugins a cluster DNS uses: cold about 2 min of compile on two cores; warm: seconds)"
  CGO_ENABLED=0 timed coredns go_build_to coredns \
    -ldflags "-X github.com/coredns/coredns/coremain.GitCommit=$(go list -m -f '{{.Version}}' github.com/coredns/coredns)" \
    .
  say "coredns: $("$out/coredns" -version | head -1)"
}

# step_etcd builds upstream's etcd server from the module meshapi itself
# requires (go.etcd.io/etcd/server/v3, whose root package is etcd's
# main), so the program the tests run is the etcd meshapi links; the
# fault suite runs three of them as one cluster's meshapi etcd.
step_etcd() {
  download_modules_of "$root"
  cd "$root"
  local pkg=go.etcd.io/etcd/server/v3 version
  version=$(go list -m -f '{{.Version}}' "$pkg")
  say "building etcd $version (cold: about 5 min on a busy machine; warm: seconds)"
  CGO_ENABLED=0 timed etcd go_build_to etcd -ldflags "-X go.etcd.io/etcd/api/v3/version.GitSHA=$version" "$pkg"
  say "etcd: $("$out/etcd" --version | head -1)"
}

step_ocimage() {
  download_modules_of "$tools/ocimage"
  cd "$tools/ocimage"
  say "building ocimage (cold: ~20 s)"
  CGO_ENABLED=0 timed ocimage go_build_to ocimage .
}

# e2e.test is upstream's test/e2e suite runner with only the sig-network
# test sources compiled in (hack/tools/e2e), built as upstream builds it.
step_e2e_test() {
  download_modules_of "$tools"
  cd "$tools"
  say "building e2e.test (cold: ~10 min after the node step; warm: a minute)"
  local start
  start=$(date +%s)
  go test -c -trimpath -ldflags "$(kube_ldflags)" -o "$out/.e2e.test.tmp" ./e2e
  mv -f "$out/.e2e.test.tmp" "$out/e2e.test"
  say "e2e.test built in $(( $(date +%s) - start ))s: $("$out/e2e.test" --version)"
  # The ginkgo CLI of the version e2e.test links, which runs its specs in
  # parallel processes (hack/upstream-e2e.sh --procs), as upstream's
  # hack/ginkgo-e2e.sh does.
  go build -trimpath -o "$out/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
  say "ginkgo built: $("$out/ginkgo" version)"
}

# The images are written to bin/images/NAME.tar with bin/ocimage and listed
# in bin/images/images.txt, one line per tarball: the file name, then every
# tag it holds. Import each into a node's containerd with
#   ctr --address SOCKET -n k8s.io images import bin/images/NAME.tar
# and run them with imagePullPolicy IfNotPresent or Never. Tags are exactly
# upstream's, so upstream manifests and e2e suites find them.
images="$out/images"

# image NAME OCIMAGE-ARGS... writes bin/images/NAME.tar and lists it.
image() {
  local name=$1 start tags=() prev="" arg
  shift
  start=$(date +%s)
  "$out/ocimage" --out "$images/$name.tar" "$@"
  for arg in "$@"; do
    [ "$prev" = --tag ] && tags+=("$arg")
    prev=$arg
  done
  echo "$name.tar ${tags[*]}" >>"$images/images.txt.tmp"
  say "image $name.tar (${tags[*]}) written in $(( $(date +%s) - start ))s, $(( $(stat -c %s "$images/$name.tar") / 1048576 )) MiB"
}

# need_host_binary PATH PACKAGE fails naming the Debian package to install
# when a host program an image copies is missing.
need_host_binary() {
  [ -x "$1" ] || { echo "hack/build-tools.sh: $1 is missing; the images need it: apt-get install $2" >&2; return 1; }
}

# image_pause compiles upstream's pause.c statically as its Makefile does;
# the tag is the version both the kubelet (kubeadm's PauseVersion) and
# containerd's default sandbox image name.
image_pause() {
  local k8s_dir version
  k8s_dir=$(cd "$tools" && hack::module_dir k8s.io/kubernetes)
  version=$(sed -n 's/^TAG ?= *//p' "$k8s_dir/build/pause/Makefile")
  need_host_binary "$(command -v gcc || echo /usr/bin/gcc)" "gcc libc6-dev"
  gcc -Os -Wall -Werror -static "-DVERSION=v$version-meshapi" -o "$work/pause" "$k8s_dir/build/pause/linux/pause.c"
  strip "$work/pause"
  image pause --tag "registry.k8s.io/pause:$version" \
    --file "$work/pause:/pause:0755" --user 65535:65535 --entrypoint /pause
}

# shell_tools are the host programs (with their libraries) that upstream's
# Alpine- and Debian-based test images offer the e2e suites: a shell, the
# coreutils its scripts call, curl, dig, getent, nc and wget (the Services
# suites fetch with `wget -q -O - -T 1`; GNU wget, as Debian's static
# BusyBox 1.35 wget crashes on -T). /bin and /sbin are links to /usr/bin
# and /usr/sbin, as on the host.
shell_tools() {
  local p args=(--symlink /bin:usr/bin --symlink /sbin:usr/sbin --symlink /usr/bin/sh:dash
    --symlink /usr/bin/awk:mawk --mkdir /tmp:1777 --file "$work/etc:/etc")
  need_host_binary /usr/bin/curl curl
  need_host_binary /usr/bin/dig bind9-dnsutils
  need_host_binary /usr/bin/nc netcat-openbsd
  need_host_binary /usr/bin/wget wget
  for p in dash bash cat echo ls sleep seq head tail grep sed mawk cut tr wc sort uniq date env \
    id mkdir rm touch cp mv ln chmod hostname getent timeout test true false printf stat \
    curl dig nslookup nc wget ip ss ps kill; do
    need_host_binary "/usr/bin/$p" "the package that has /usr/bin/$p"
    args+=(--binary "/usr/bin/$p")
  done
  printf '%s\n' "${args[@]}"
}

# image_userland_etc writes the /etc that the shell-tools images share:
# name service order, and the user and group upstream's agnhost defines.
image_userland_etc() {
  mkdir -p "$work/etc"
  printf 'hosts: files dns\npasswd: files\ngroup: files\n' >"$work/etc/nsswitch.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\nuser-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$work/etc/passwd"
  printf 'root:x:0:\nuser-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\nnogroup:x:65534:\n' >"$work/etc/group"
}

# image_agnhost builds upstream's agnhost, versioned as its Makefile does,
# with the files its Dockerfile adds (porter's certificate, /uploads, the
# agnhost-2 link, /coredns: here bin/coredns, which the DNS specs run as a
# Pod's own DNS server; socat) and the shell tools. Upstream links it statically
# (CGO_ENABLED=0); here it is built like the other Kubernetes programs so
# that it reuses their build cache (cold, a static build recompiles all of
# k8s.io/kubernetes again: ~20 minutes on two cores), and --binary copies
# the C library it loads.
image_agnhost() {
  local k8s_dir version tools_args
  k8s_dir=$(cd "$tools" && hack::module_dir k8s.io/kubernetes)
  version=$(sed -n 's/.*configs\[Agnhost\] = Config{[^"]*"agnhost", "\([^"]*\)"}.*/\1/p' "$k8s_dir/test/utils/image/manifest.go")
  [ -n "$version" ] || { echo "hack/build-tools.sh: no agnhost version in $k8s_dir/test/utils/image/manifest.go" >&2; return 1; }
  (cd "$tools" && go build -trimpath -ldflags "-X main.Version=$version" -o "$work/agnhost" k8s.io/kubernetes/test/images/agnhost)
  need_host_binary /usr/bin/socat socat
  mapfile -t tools_args < <(shell_tools)
  image agnhost --tag "registry.k8s.io/e2e-test-images/agnhost:$version" \
    --binary "$work/agnhost:/agnhost" --symlink /agnhost-2:agnhost --mkdir /uploads \
    --binary "$out/coredns:/coredns" --binary /usr/bin/socat \
    --file "$k8s_dir/test/images/agnhost/porter/localhost.crt:/localhost.crt" \
    --file "$k8s_dir/test/images/agnhost/porter/localhost.key:/localhost.key" \
    "${tools_args[@]}" --entrypoint /agnhost --cmd pause
}

# image_glibc_dns_testing is upstream's glibc-dns-testing (Debian with
# dnsutils: the DNS suites' glibc resolver prober), from the host's tools.
image_glibc_dns_testing() {
  local k8s_dir version tools_args
  k8s_dir=$(cd "$tools" && hack::module_dir k8s.io/kubernetes)
  version=$(cat "$k8s_dir/test/images/glibc-dns-testing/VERSION")
  mapfile -t tools_args < <(shell_tools)
  image glibc-dns-testing --tag "registry.k8s.io/e2e-test-images/glibc-dns-testing:$version" \
    "${tools_args[@]}" --cmd /bin/sh
}

# image_busybox is upstream's e2e busybox image: Debian's static BusyBox
# as /bin/busybox with a link for each of its applets where BusyBox's own
# --install would put it, and the shared /etc.
image_busybox() {
  local k8s_dir version applet links=()
  k8s_dir=$(cd "$tools" && hack::module_dir k8s.io/kubernetes)
  version=$(sed -n 's/.*configs\[BusyBox\] = Config{[^"]*"busybox", "\([^"]*\)"}.*/\1/p' "$k8s_dir/test/utils/image/manifest.go")
  [ -n "$version" ] || { echo "hack/build-tools.sh: no busybox version in $k8s_dir/test/utils/image/manifest.go" >&2; return 1; }
  need_host_binary /usr/bin/busybox busybox-static
  while read -r applet; do
    [ "$applet" = bin/busybox ] || links+=(--symlink "/$applet:/bin/busybox")
  done < <(/usr/bin/busybox --list-full)
  image busybox --tag "registry.k8s.io/e2e-test-images/busybox:$version" \
    --file "/usr/bin/busybox:/bin/busybox:0755" "${links[@]}" --mkdir /tmp:1777 --file "$work/etc:/etc" --cmd sh
}

# image_nginx is upstream's e2e nginx image (the official nginx image's
# layout: /etc/nginx, /usr/share/nginx/html, port 80, logs to the
# container's output, daemon off) with Debian's nginx; the Endpoints and
# EndpointSlice specs run it as their Pods' server.
image_nginx() {
  local k8s_dir version root=$work/nginx
  k8s_dir=$(cd "$tools" && hack::module_dir k8s.io/kubernetes)
  version=$(sed -n 's/.*configs\[Nginx\] = Config{[^"]*"nginx", "\([^"]*\)"}.*/\1/p' "$k8s_dir/test/utils/image/manifest.go")
  [ -n "$version" ] || { echo "hack/build-tools.sh: no nginx version in $k8s_dir/test/utils/image/manifest.go" >&2; return 1; }
  need_host_binary /usr/sbin/nginx nginx
  mkdir -p "$root/etc/nginx" "$root/html"
  cp "$work/etc/"* "$root/etc/"
  cp /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  cat >"$root/etc/nginx/nginx.conf" <<'CONF'
user nobody nogroup;
worker_processes auto;
error_log stderr notice;
pid /run/nginx.pid;
events {
    worker_connections 1024;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    keepalive_timeout 65;
    server {
        listen 80;
        listen [::]:80;
        server_name localhost;
        location / {
            root /usr/share/nginx/html;
            index index.html;
        }
    }
}
CONF
  printf '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n' >"$root/html/index.html"
  image nginx --tag "registry.k8s.io/e2e-test-images/nginx:$version" \
    --binary /usr/sbin/nginx --file "$root/etc:/etc" --file "$root/html:/usr/share/nginx/html" \
    --mkdir /var/lib/nginx:0755 --mkdir /run:0755 --mkdir /tmp:1777 \
    --entrypoint /usr/sbin/nginx --cmd=-g --cmd "daemon off;"
}

# image_coredns tags bin/coredns as its own version and as the one
# kubeadm's constants (and cluster/addons) of the pinned Kubernetes name.
image_coredns() {
  local k8s_dir ours theirs tags
  k8s_dir=$(cd "$tools" && hack::module_dir k8s.io/kubernetes)
  ours=$(cd "$tools/coredns" && go list -m -f '{{.Version}}' github.com/coredns/coredns)
  theirs=$(sed -n 's/^\s*CoreDNSVersion = "\(.*\)"/\1/p' "$k8s_dir/cmd/kubeadm/app/constants/constants.go")
  tags=(--tag "registry.k8s.io/coredns/coredns:$ours")
  [ -z "$theirs" ] || [ "$theirs" = "$ours" ] || tags+=(--tag "registry.k8s.io/coredns/coredns:$theirs")
  image coredns "${tags[@]}" --file "$out/coredns:/coredns:0755" --user 65532:65532 --entrypoint /coredns
}

# image_kube_proxy is bin/kube-proxy with the nft it runs in nftables mode
# (and iptables, for its cleanup of other modes, when the host has it).
image_kube_proxy() {
  local version extra=()
  version=$(cd "$tools" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  need_host_binary /usr/sbin/nft nftables
  [ -x /usr/sbin/iptables ] && extra+=(--binary /usr/sbin/iptables)
  image kube-proxy --tag "registry.k8s.io/kube-proxy:$version" \
    --file "$out/kube-proxy:/usr/local/bin/kube-proxy:0755" --binary /usr/sbin/nft "${extra[@]}" \
    --entrypoint /usr/local/bin/kube-proxy
}

step_images() {
  local need
  for need in ocimage kube-proxy coredns; do
    [ -x "$out/$need" ] || { echo "hack/build-tools.sh: bin/$need is missing; the images step needs it (run the steps node, coredns and ocimage first)" >&2; return 1; }
  done
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$images"
  rm -f "$images/images.txt.tmp"
  image_userland_etc
  image_pause
  image_agnhost
  image_glibc_dns_testing
  image_busybox
  image_nginx
  image_coredns
  image_kube_proxy
  mv -f "$images/images.txt.tmp" "$images/images.txt"
}

main() {
  local steps=("$@") step
  [ ${#steps[@]} -gt 0 ] || steps=(control-plane node containerd coredns etcd ocimage images)
  for step in "${steps[@]}"; do
    case $step in
      control-plane) build_kube kube-apiserver kube-controller-manager kubectl ;;
      node) build_kube kubelet kube-proxy kube-scheduler ;;
      containerd) step_containerd ;;
      coredns) step_coredns ;;
      etcd) step_etcd ;;
      ocimage) step_ocimage ;;
      images) step_images ;;
      e2e.test) step_e2e_test ;;
      *) echo "hack/build-tools.sh: unknown step $step (want control-plane, node, containerd, coredns, etcd, ocimage, images or e2e.test)" >&2; return 2 ;;
    esac
  done
}

main "$@"
