// Package sql embeds the reactor's schema and triggers, applied by
// `reactor migrate`.
package sql

import _ "embed"

// Schema creates the tables. It is idempotent.
//
//go:embed schema.sql
var Schema string

// Triggers installs the notification triggers. It is idempotent.
//
//go:embed triggers.sql
var Triggers string

// Version is the schema version that this build expects in
// reactor_schema_version.
const Version = 3
