// Package command is rkv's command table: one Spec per command and per
// subcommand it has, holding everything rkv knows about a command apart
// from how to execute it: name, arity, flags, key positions and Redis 7
// key specs, ACL categories, tips, group, since-version, the argument
// structure COMMAND DOCS reports, a one-line summary in rkv's words, and
// where rkv runs it (Runs: on the connection, on the server, as a
// replicated write or a linearizable read).
//
// Everything that asks "what is this command" reads it: arity and
// subcommand checks, COMMAND (COUNT, LIST, INFO, DOCS, GETKEYS), ACL
// categories and checks, MULTI queueing, routing and MOVED. The store and
// the front end register the executors, each by a name the table must
// hold, and a command that is in the table has an executor: an option
// that would do nothing is left out rather than answered with +OK.
//
// The facts come from Redis 7.0 (redis7.json, written by
// ./internal/gen from a running redis-server, so that COMMAND INFO agrees
// with Redis's for every command rkv has); extras.go holds what rkv has
// beyond Redis 7.0, and summaries.go the summaries. The package imports
// nothing of the project.
package command
