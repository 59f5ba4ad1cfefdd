// Command meshapi-demo is what `make run` runs: two real clusters on this
// machine (cluster-a and cluster-b, each the end-to-end framework's
// cluster: etcd, kube-apiserver, kube-controller-manager, meshapi-apiserver
// behind its APIService, meshapi-controller), two network-namespace nodes
// per cluster with a meshapi-agent each, the bookinfo layout of the
// original product's concepts, connected with the real `meshctl connect`.
// It prints a ready banner with the kubeconfig and the commands to try,
// stays up until SIGINT or SIGTERM, then removes everything it created.
// What it creates is recorded in <dir>/state.json as it goes, so that a
// run after an interrupted one (kill -9) first removes what that one left.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// netnsPrefix starts the name of every network namespace the demo
// creates (the framework names a topology's namespaces "m<name>-"); the
// end-to-end tests use other topology names.
const netnsPrefix = "m" + topologyName + "-"

func main() {
	dir := flag.String("dir", "meshapi-demo", "Directory of the demo's state, binaries, clusters and kubeconfig.")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "meshapi-demo: the nodes and pods are network namespaces, which need root: run `sudo make run`, or `make run-api` for the API server alone")
		os.Exit(1)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "meshapi-demo: --dir %q: %v\n", *dir, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second Ctrl-C while stopping ends the demo at once; the next
		// run removes what is left.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, abs); err != nil {
		fmt.Fprintf(os.Stderr, "meshapi-demo: %v\n", err)
		os.Exit(1)
	}
}

// run removes what an earlier run left, brings the mesh up, waits for a
// signal, and removes everything again.
func run(ctx context.Context, dir string) (err error) {
	st, err := takeOver(dir, os.Stdout)
	if err != nil {
		return err
	}
	m := newMesh(dir, st, os.Stdout)
	defer func() {
		fmt.Fprintln(os.Stdout, "\nstopping: removing the namespaces, processes and files the demo created (Ctrl-C again quits at once; the next run cleans up)")
		start := time.Now()
		err = errors.Join(err, m.teardown())
		if err == nil {
			fmt.Fprintf(os.Stdout, "stopped in %s; nothing left behind\n", time.Since(start).Round(100*time.Millisecond))
		}
	}()
	if err := m.up(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		return err
	}
	m.printBanner(os.Stdout)
	<-ctx.Done()
	return nil
}
