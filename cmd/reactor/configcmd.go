package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/store"
)

// cmdConfig prints every setting's effective value and its source:
// default, environment, command line, or the configuration file's path and
// line. Passwords in the database URL are masked. An invalid configuration
// is printed too, followed by its errors.
func cmdConfig(_ context.Context, e env) error {
	_, settings, err := config.LoadFile(e.lookup, e.configFile)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVALUE\tSOURCE")
	for _, s := range settings {
		value := s.Value
		if value == "" {
			value = `""`
		}
		if s.Name == "REACTOR_DATABASE_URL" && s.Value == "" {
			// Name the database libpq's defaults reach, so that the wrong one
			// is not migrated.
			if target, err := store.Describe(""); err == nil {
				value = `"" (libpq defaults: ` + target + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, value, s.Source)
	}
	tw.Flush()
	if err != nil {
		fmt.Fprintf(e.stderr, "reactor config: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return exitError(1)
	}
	return nil
}
