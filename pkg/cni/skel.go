package cni

import (
	"context"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// Versions are the CNI specification versions the plugin accepts.
var Versions = version.PluginSupports("0.4.0", "1.0.0", "1.1.0")

// Funcs are the plugin's commands for skel.PluginMainFuncs. Each command
// parses the configuration and runs under ctx, bounded by Timeout.
func Funcs(ctx context.Context) skel.CNIFuncs {
	run := func(args *skel.CmdArgs, cmd func(context.Context, *Env) error) error {
		conf, err := ParseConf(args.StdinData)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, Timeout)
		defer cancel()
		return cmd(cctx, NewEnv(conf))
	}
	return skel.CNIFuncs{
		Add: func(args *skel.CmdArgs) error {
			return run(args, func(ctx context.Context, e *Env) error {
				r, err := e.Add(ctx, args)
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
