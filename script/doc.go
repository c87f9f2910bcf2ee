// Package script runs Lua scripts and functions as Redis 7.0 does:
// EVAL/EVALSHA scripts with their cache, function libraries (FUNCTION
// LOAD, FCALL), the redis.* API, the cjson, cmsgpack, bit and struct
// modules, and the conversions between RESP replies and Lua values.
//
// The package is a leaf: it knows the command table (to refuse unknown,
// ill-sized, noscript and forbidden write commands before they run) but
// not the store. A Host runs each command a script calls and returns its
// RESP reply; the engine returns the script's reply RESP-encoded.
//
// # Determinism
//
// A script is meant to run at apply time on every replica, so its
// outcome must depend only on its inputs and the store: there is no os
// or io library, math.random starts every call from Options.Seed (which
// the log carries), and table iteration in gopher-lua follows insertion
// order. What remains for the host: time (TIME and friends are commands
// the host answers from the entry's stamp) and bounding a looping
// script, for which Options.Budget, Options.Context and Kill stop it.
// Kill cannot stop a script every replica runs from the log, so a host
// may first run a script that may write with Options.UntilWrite on one
// node, where it can be killed until its first write, as in Redis.
//
// # Differences from Redis
//
// gopher-lua is not PUC Lua 5.1: numbers print with Go's formatting in
// tostring and '..' (Redis prints "%.14g"), runtime and syntax error
// texts are gopher-lua's, and read-only tables are proxies (pairs over
// _G or string sees nothing). FUNCTION LIST is sorted by name. FUNCTION
// DUMP's payload is Redis's (payload.go).
package script
