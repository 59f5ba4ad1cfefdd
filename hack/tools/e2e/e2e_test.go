// Package e2e_test is upstream Kubernetes' end-to-end suite
// (k8s.io/kubernetes/test/e2e, at the version pinned in this module's
// go.mod) compiled with the test sources that matter to a CNI: the
// [sig-network] suites of test/e2e/network and, through test/e2e itself,
// test/e2e/common (pod-to-pod networking among them). hack/build-tools.sh
// builds it into bin/e2e.test; hack/upstream-e2e.sh runs it against a
// meshapi cluster. The runner below is upstream's test/e2e/e2e_test.go
// without the suites of other SIGs, so the binary takes upstream's flags
// (--kubeconfig, --ginkgo.focus, --ginkgo.skip, --provider ...).
package e2e_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"k8s.io/component-base/version"
	conformancetestdata "k8s.io/kubernetes/test/conformance/testdata"
	"k8s.io/kubernetes/test/e2e"
	"k8s.io/kubernetes/test/e2e/framework"
	"k8s.io/kubernetes/test/e2e/framework/config"
	"k8s.io/kubernetes/test/e2e/framework/testfiles"
	"k8s.io/kubernetes/test/e2e/invariants/logcheck"
	e2etestingmanifests "k8s.io/kubernetes/test/e2e/testing-manifests"
	testfixtures "k8s.io/kubernetes/test/fixtures"

	_ "k8s.io/kubernetes/test/e2e/feature" // define and freeze feature constants
	_ "k8s.io/kubernetes/test/e2e/network" // the [sig-network] suites

	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"   // reconfigure the framework as upstream's e2e.test does
	_ "k8s.io/kubernetes/test/e2e/framework/metrics/init" // "
	_ "k8s.io/kubernetes/test/e2e/framework/node/init"    // "
	_ "k8s.io/kubernetes/test/utils/ktesting/format"      // "
)

// TestMain registers and parses upstream's e2e flags, as upstream's
// e2e.test does.
func TestMain(m *testing.M) {
	versionFlag := flag.CommandLine.Bool("version", false, "Displays version information.")
	config.CopyFlags(config.Flags, flag.CommandLine)
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	logcheck.RegisterFlags(flag.CommandLine)
	flag.Parse()
	if *versionFlag {
		fmt.Printf("%s\n", version.Get())
		os.Exit(0)
	}
	if flag.CommandLine.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unknown additional command line arguments: %s\n", flag.CommandLine.Args())
		os.Exit(1)
	}
	testfiles.AddFileSource(e2etestingmanifests.GetE2ETestingManifestsFS())
	testfiles.AddFileSource(testfixtures.GetTestFixturesFS())
	testfiles.AddFileSource(conformancetestdata.GetConformanceTestdataFS())
	framework.AfterReadingAllFlags(&framework.TestContext)
	os.Exit(m.Run())
}

// TestE2E runs the ginkgo suite.
func TestE2E(t *testing.T) {
	e2e.RunE2ETests(t)
}
