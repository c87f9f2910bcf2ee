package store

// Exec runs one command, a name and its arguments, inside a script and
// appends its RESP reply to out.
type Exec func(args [][]byte, out []byte) []byte

// ScriptRunner runs a script command (EVAL, EVALSHA, FCALL and their _RO
// forms, args) queued in a transaction, its commands through exec, at
// nowMs, and appends its reply to out.
type ScriptRunner func(nowMs int64, exec Exec, args [][]byte, out []byte) []byte

// SetScriptRunner sets what runs the scripts an EXEC holds; without one
// they answer as unknown commands. Call it before the store is used.
func (s *Store) SetScriptRunner(run ScriptRunner) { s.scripts = run }

// ApplyScript runs a script from the Raft log at the leader's stamp
// stampMs: fn runs under the write lock, and each command it executes
// runs as Apply would run it, all of them as one entry (one seq, one
// clock, one seeding of the log's randomness), so that the script's reads
// and writes take effect at one point of the log and every replica that
// runs the same script decides the same. fn's nowMs is the time the
// script sees (TIME): the store's clock.
func (s *Store) ApplyScript(db int, stampMs int64, fn func(nowMs int64, exec Exec)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.beginEntry(stampMs)
	defer s.applied()
	s.selectDB(db)
	defer s.selectDB(0)
	m.script = true
	fn(m.now, func(args [][]byte, out []byte) []byte { return s.dispatch(m, args, out) })
}

// ScriptDB is the database a script's commands run in now (a SELECT in
// the script changes it). Only for the callbacks of ApplyScript,
// ReadScript and a transaction's scripts, which hold the store's lock.
func (s *Store) ScriptDB() int { return s.db }

// ReadScript runs a read-only script in database db against the current
// state at nowMs (the local wall clock, raised to the store's clock if
// behind), so that its commands see one state; a write command is
// refused. It holds the write lock, not the read lock, because the script
// may SELECT another database (see selectDB).
func (s *Store) ReadScript(db int, nowMs int64, fn func(nowMs int64, exec Exec)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.selectDB(db)
	defer s.selectDB(0)
	m := mode{now: s.queryNow(nowMs), script: true}
	fn(m.now, func(args [][]byte, out []byte) []byte {
		return s.read(m, args, out, "' is not allowed from a read-only script")
	})
}
