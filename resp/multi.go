package resp

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// Transactions. MULTI makes a connection queue its commands; EXEC proposes
// the queued store commands, with the connection's WATCH marks, as one
// replica.KindExec entry, which every replica applies atomically and
// aborts alike when a watched key changed. Commands the front end answers
// itself (PING, ECHO, CLIENT ...) are queued too and run at EXEC in their
// place in its reply. As in Redis, a queued command refused for its name,
// its arity or its node (MOVED) makes EXEC answer EXECABORT.

// txState is a connection's MULTI and WATCH state. Only the connection's
// own goroutine touches it.
type txState struct {
	multi bool
	// dirty is set when a command was refused while queueing.
	dirty   bool
	queue   []queuedCommand
	watches []store.WatchMark
	watched map[dbKey]bool
	// session is registered with the server's watchRegistry while there
	// are watches.
	session *watchSession
}

type queuedCommand struct {
	args [][]byte       // a copy: the connection reuses its read buffer
	sc   *store.Command // nil for a command the front end answers
	// inLog: the command runs inside the EXEC entry (a store command or
	// a script), not in its place after it.
	inLog bool
}

// endTransaction ends the transaction and forgets the watches, as Redis
// does after EXEC and DISCARD.
func (s *Server) endTransaction(tx *txState) {
	s.unwatch(tx)
	*tx = txState{}
}

// unwatch forgets the watches.
func (s *Server) unwatch(tx *txState) {
	s.watchers.forget(tx.session, tx.watches)
	tx.watches, tx.watched, tx.session = nil, nil, nil
}

// nullArray is EXEC's reply when a watched key changed.
var nullArray = []byte("*-1\r\n")

const (
	errExecAbort  = "EXECABORT Transaction discarded because of previous errors."
	errNestedMult = "ERR MULTI calls can not be nested"
	errWatchMulti = "ERR WATCH inside MULTI is not allowed"
)

// watchRoute and execRoute place WATCH and a keyless EXEC for redirects:
// MOVED names the slot of the first key, as for a store command.
var (
	watchRoute = routeOf("watch")
	execRoute  = routeOf("exec")
)

// transaction takes every command of a connection in MULTI, and an EXEC of
// the wrong arity in any state (Redis discards the transaction then); it
// reports whether it took cmd. sc is cmd's store table entry, if any.
func (s *Server) transaction(conn redcon.Conn, c *client, cmd redcon.Command, sc *store.Command) bool {
	tx := c.tx
	if sc == nil && len(cmd.Args) > 1 && strings.EqualFold(string(cmd.Args[0]), "exec") {
		s.endTransaction(tx)
		conn.WriteError("EXECABORT Transaction discarded because of: " + strings.TrimPrefix(arityError("exec"), "ERR "))
		return true
	}
	if !tx.multi {
		return false
	}
	refuse := func(msg string) bool {
		tx.dirty = true
		conn.WriteError(msg)
		return true
	}
	var admin *serverCommand
	var ok bool
	if sc != nil {
		if !sc.ArityOK(len(cmd.Args)) {
			return refuse(arityError(sc.Name))
		}
		// A follower queues reads for a READONLY connection: it serves a
		// transaction of reads itself (execReads).
		if sc.Writes() && s.noReplicas(s.home) {
			return refuse(errNoReplicas)
		}
		if sc.FirstKey > 0 && !s.home.Node().IsLeader() && !(c.readonly && !sc.Writes()) {
			tx.dirty = true
			s.redirect(conn, sc, cmd.Args, s.home.Node().Leader())
			return true
		}
	} else {
		admin, ok = serverCommands[strings.ToLower(string(cmd.Args[0]))]
		if !ok {
			return refuse(unknownCommand(cmd.Args))
		}
		if msg := checkServerCommand(admin, cmd.Args); msg != "" {
			return refuse(msg)
		}
		if admin.spec.Has("no_multi") {
			return refuse("ERR Command not allowed inside a transaction")
		}
		switch admin.spec.Name {
		case "exec":
			s.exec(conn, c)
			return true
		case "discard":
			s.endTransaction(tx)
			conn.WriteString("OK")
			return true
		case "multi":
			conn.WriteError(errNestedMult)
			return true
		case "watch":
			conn.WriteError(errWatchMulti)
			return true
		case "quit", "reset":
			admin.run(s, conn, c, cmd.Args)
			return true
		}
	}
	// A script queued in a transaction runs inside the EXEC entry, so
	// the transaction stays one atomic step of the log; so does a SELECT,
	// which moves the commands after it to another database.
	inLog := sc != nil || admin.spec.Runs == command.AsScript || admin.spec.Name == "select"
	tx.queue = append(tx.queue, queuedCommand{args: cloneArgs(cmd.Args), sc: sc, inLog: inLog})
	conn.WriteString("QUEUED")
	return true
}

func cloneArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

func (s *Server) cmdMulti(conn redcon.Conn, c *client, _ [][]byte) {
	c.tx.multi = true
	conn.WriteString("OK")
}

// cmdExec and cmdDiscard only run outside MULTI: transaction takes them
// inside.
func (s *Server) cmdExec(conn redcon.Conn, _ *client, _ [][]byte) {
	conn.WriteError("ERR EXEC without MULTI")
}

func (s *Server) cmdDiscard(conn redcon.Conn, _ *client, _ [][]byte) {
	conn.WriteError("ERR DISCARD without MULTI")
}

// cmdUnwatch forgets the watches. Queued in a MULTI, it runs after EXEC
// has already forgotten them, as in Redis.
func (s *Server) cmdUnwatch(conn redcon.Conn, c *client, _ [][]byte) {
	s.unwatch(c.tx)
	conn.WriteString("OK")
}

// cmdWatch marks the keys on the leader after a ReadIndex round, so that
// the marks are at least as recent as any write acknowledged before WATCH
// (the linearizable read every read gets). A key watched again keeps its
// first mark, as in Redis.
func (s *Server) cmdWatch(conn redcon.Conn, c *client, args [][]byte) {
	if !s.home.Node().IsLeader() {
		s.redirect(conn, watchRoute, args, s.home.Node().Leader())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	err := s.home.Node().ReadIndex(ctx)
	cancel()
	if err != nil {
		s.writeResult(conn, watchRoute, args, consensus.Result{Err: err})
		return
	}
	tx := c.tx
	if tx.watched == nil {
		tx.watched = make(map[dbKey]bool)
		tx.session = &watchSession{}
	}
	now := time.Now().UnixMilli()
	for _, key := range args[1:] {
		if wk := (dbKey{c.db, string(key)}); !tx.watched[wk] {
			tx.watched[wk] = true
			mark := s.home.Store().Watch(c.db, now, key)
			tx.watches = append(tx.watches, mark)
			s.watchers.add(tx.session, mark)
		}
	}
	conn.WriteString("OK")
}

// exec ends the transaction: EXECABORT if a command was refused, else the
// store commands and watches go through the log as one entry (unless there
// are none: the front end's commands alone need no log), and the reply is
// one array, each command's reply in its place, or a null array when a
// watched key changed.
func (s *Server) exec(conn redcon.Conn, c *client) {
	tx := *c.tx
	s.endTransaction(c.tx)
	if tx.dirty {
		conn.WriteError(errExecAbort)
		return
	}
	if tx.session != nil && tx.session.broken.Load() {
		writeReply(conn, c, nil, nullArray)
		return
	}
	if c.readonly && len(tx.watches) == 0 && onlyReads(tx.queue) {
		s.execReads(conn, c, tx.queue)
		return
	}
	var cmds [][][]byte
	route, routeArgs := execRoute, [][]byte{[]byte("exec")}
	if len(tx.watches) > 0 {
		route, routeArgs = watchRoute, [][]byte{[]byte("watch"), tx.watches[0].Key}
	}
	keyed := false
	var scs []*store.Command
	for _, q := range tx.queue {
		if !q.inLog {
			continue
		}
		cmds = append(cmds, q.args)
		if q.sc == nil {
			continue
		}
		scs = append(scs, q.sc)
		if q.sc.FirstKey > 0 && !keyed {
			route, routeArgs, keyed = q.sc, q.args, true
		}
	}
	if len(cmds) == 0 && len(tx.watches) == 0 {
		conn.WriteArray(len(tx.queue))
		for _, q := range tx.queue {
			s.admin(conn, c, redcon.Command{Args: q.args})
		}
		return
	}
	if !s.home.Node().IsLeader() {
		s.redirect(conn, route, routeArgs, s.home.Node().Leader())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	// As Redis, EXEC is refused whole when it queued a command that may
	// grow memory and memory is over maxmemory.
	if denyOOM(scs) && !s.home.Removal().AdmitWrite(ctx) {
		conn.WriteError(errOOM)
		return
	}
	if slices.ContainsFunc(scs, (*store.Command).Writes) && s.noReplicas(s.home) {
		conn.WriteError("EXECABORT Transaction discarded because of: " + errNoReplicas)
		return
	}
	entry := replica.EncodeEntryDB(nil, replica.KindExec, c.db, time.Now().UnixMilli(), store.ExecArgs(tx.watches, cmds))
	v, err := s.home.Node().Propose(ctx, entry)
	reply, ok := v.([]byte)
	if err != nil || !ok {
		s.writeResult(conn, route, routeArgs, consensus.Result{Val: v, Err: err})
		return
	}
	s.selectedInExec(c, cmds, reply)
	if len(cmds) < len(tx.queue) {
		if _, arr := redcon.ReadNextRESP(reply); arr.Type == redcon.Array && arr.Count == len(cmds) {
			s.interleave(conn, c, tx.queue, arr.Data)
			if c.tracked {
				s.rememberQueuedReads(c, tx.queue)
			}
			return
		}
	}
	// All store commands, an abort (null array), or an error.
	_, arr := redcon.ReadNextRESP(reply)
	if c.resp3 && arr.Type == redcon.Array && arr.Count == len(cmds) {
		replyEach(conn, c, cmds, arr.Data)
	} else {
		writeReply(conn, c, nil, reply)
	}
	if c.tracked && arr.Type == redcon.Array {
		s.rememberQueuedReads(c, tx.queue)
	}
}

// selectedInExec makes the database the last SELECT a transaction ran
// (cmds, replied with reply) chose the connection's, as in Redis.
func (s *Server) selectedInExec(c *client, cmds [][][]byte, reply []byte) {
	_, arr := redcon.ReadNextRESP(reply)
	if arr.Type != redcon.Array || arr.Count != len(cmds) {
		return
	}
	elems := arr.Data
	for _, args := range cmds {
		n, _ := redcon.ReadNextRESP(elems)
		if strings.EqualFold(string(args[0]), "select") && string(elems[:n]) == "+OK\r\n" {
			db, _ := strconv.Atoi(string(args[1]))
			s.setClient(c, func(c *client) { c.db = db })
		}
		elems = elems[n:]
	}
}

// rememberQueuedReads records the keys of the reads a transaction ran for
// client-side caching.
func (s *Server) rememberQueuedReads(c *client, queue []queuedCommand) {
	for _, q := range queue {
		if q.sc != nil && !q.sc.Writes() {
			s.rememberRead(c, q.args)
		}
	}
}

// interleave writes EXEC's array: the store's replies (elems, in order)
// for the store commands, and the front end's commands run now in their
// places.
func (s *Server) interleave(conn redcon.Conn, c *client, queue []queuedCommand, elems []byte) {
	conn.WriteArray(len(queue))
	for _, q := range queue {
		if !q.inLog {
			s.admin(conn, c, redcon.Command{Args: q.args})
			continue
		}
		n, _ := redcon.ReadNextRESP(elems)
		writeReply(conn, c, q.args, elems[:n])
		elems = elems[n:]
	}
}

// onlyReads reports whether a transaction holds only reads of the
// keyspace and front-end commands.
func onlyReads(queue []queuedCommand) bool {
	for _, q := range queue {
		if q.inLog && (q.sc == nil || q.sc.Writes()) {
			return false
		}
	}
	return true
}

// execReads serves a READONLY connection's transaction of reads from this
// node's copy, as its reads are served, the store's reads at one point in
// time and the front end's commands in their places.
func (s *Server) execReads(conn redcon.Conn, c *client, queue []queuedCommand) {
	var reads [][][]byte
	for _, q := range queue {
		if q.inLog {
			reads = append(reads, q.args)
		}
	}
	replies := make([][]byte, len(reads))
	s.home.Store().ReadEach(c.db, time.Now().UnixMilli(), reads, func(i int, out []byte) {
		replies[i] = append([]byte(nil), out...)
	})
	conn.WriteArray(len(queue))
	k := 0
	for _, q := range queue {
		if !q.inLog {
			s.admin(conn, c, redcon.Command{Args: q.args})
			continue
		}
		writeReply(conn, c, q.args, replies[k])
		k++
	}
	if c.tracked {
		s.rememberQueuedReads(c, queue)
	}
}
