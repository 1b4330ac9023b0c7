package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// cmdVersion prints the version, the Go version and, from the build
// information, the version control state and every module.
func cmdVersion(_ context.Context, e env) error {
	fmt.Fprintf(e.stdout, "reactor %s\n", version)
	fmt.Fprintf(e.stdout, "go      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	for _, s := range info.Settings {
		if strings.HasPrefix(s.Key, "vcs.") {
			fmt.Fprintf(e.stdout, "%-7s %s\n", strings.TrimPrefix(s.Key, "vcs."), s.Value)
		}
	}
	fmt.Fprintf(e.stdout, "module  %s %s\n", info.Main.Path, info.Main.Version)
	for _, dep := range info.Deps {
		line := fmt.Sprintf("dep     %s %s", dep.Path, dep.Version)
		if dep.Replace != nil {
			line += fmt.Sprintf(" => %s %s", dep.Replace.Path, dep.Replace.Version)
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}
