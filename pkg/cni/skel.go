package cni

import (
	"context"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// Versions are the CNI specification versions the plugin accepts.
var Versions = version.PluginSupports("0.4.0", "1.0.0", "1.1.0")

// Funcs are the plugin's commands for skel.PluginMainFuncs; newIPAM makes
// the allocator (NewIPAM) and parse reads the pod annotations
// (Annotations). Each command builds its clients from the configuration
// and runs under ctx, bounded by Timeout.
func Funcs(ctx context.Context, newIPAM func(versioned.Interface) IPAM, parse AnnotationParser) skel.CNIFuncs {
	run := func(args *skel.CmdArgs, cmd func(context.Context, *Env) error) error {
		conf, err := ParseConf(args.StdinData)
		if err != nil {
			return err
		}
		env, err := NewEnv(conf, newIPAM)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, Timeout)
		defer cancel()
		return cmd(cctx, env)
	}
	return skel.CNIFuncs{
		Add: func(args *skel.CmdArgs) error {
			return run(args, func(ctx context.Context, e *Env) error {
				r, err := e.Add(ctx, args, parse)
				if err != nil {
					return err
				}
				return types.PrintResult(r, e.Conf.CNIVersion)
			})
		},
		Del: func(args *skel.CmdArgs) error {
			return run(args, func(ctx context.Context, e *Env) error { return e.Del(ctx, args) })
		},
		Check: func(args *skel.CmdArgs) error {
			return run(args, func(ctx context.Context, e *Env) error { return e.Check(ctx, args) })
		},
		Status: func(args *skel.CmdArgs) error {
			return run(args, func(ctx context.Context, e *Env) error { return e.Status(ctx) })
		},
		GC: func(args *skel.CmdArgs) error {
			return run(args, func(ctx context.Context, e *Env) error { return e.GC(ctx) })
		},
	}
}
