package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// sharedLibraries lists the host paths of the shared libraries (and the
// dynamic loader) that the executable at binary loads, as ldd resolves
// them. A static executable has none.
func sharedLibraries(ctx context.Context, binary string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ldd", binary)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	combined := stdout.String() + stderr.String()
	if strings.Contains(combined, "not a dynamic executable") || strings.Contains(combined, "statically linked") {
		return nil, nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w: %s", binary, err, strings.TrimSpace(combined))
	}
	libs, err := parseLdd(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	return libs, nil
}

// parseLdd returns the absolute library paths in the output of ldd, in
// order: "name => /path (0x...)" gives /path, "/path (0x...)" (the loader)
// gives /path, and the kernel's vDSO, which has no file, is skipped. A
// library ldd could not find is an error naming it.
func parseLdd(out string) ([]string, error) {
	var libs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if name, rest, found := strings.Cut(line, "=>"); found {
			rest = strings.TrimSpace(rest)
			if strings.HasPrefix(rest, "not found") {
				return nil, fmt.Errorf("library %s not found", strings.TrimSpace(name))
			}
			if p := strings.Fields(rest); len(p) > 0 && strings.HasPrefix(p[0], "/") {
				libs = append(libs, p[0])
			}
			continue
		}
		if p := strings.Fields(line); strings.HasPrefix(p[0], "/") {
			libs = append(libs, p[0])
		}
	}
	return libs, nil
}
