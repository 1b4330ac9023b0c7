package main

import "context"

// cmdMigrate creates or upgrades the tables and triggers.
func cmdMigrate(ctx context.Context, e env) error {
	_, log, st, err := setup(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx, log)
}
