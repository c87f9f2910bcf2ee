package resp

// Blocking commands (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN,
// BZPOPMAX). A client blocks on the leader: its command is proposed as a
// write, which pops what is there or answers the null of a timeout (the
// store runs the non-blocking form); while it answers null, the client
// waits for the replica to report a change of one of its keys and, when a
// key is ready, proposes the command again on its behalf, so every pop is
// in the log. Clients blocked on a key are woken oldest first, one at a
// time: the next is woken when the one before stops waiting. A leader
// change wakes every blocked client with MOVED to the new leader; in MULTI
// the commands do not block, as in Redis.

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// blockedClient is one client waiting in a blocking command.
type blockedClient struct {
	id   int64
	db   int
	keys []string
	// wake is signalled when a key it waits on may be ready.
	wake chan struct{}
	// unblocked receives CLIENT UNBLOCK's choice: true for ERROR.
	unblocked chan bool
}

// blockRegistry finds the clients blocked on each key, oldest first.
type blockRegistry struct {
	mu    sync.Mutex
	byKey map[dbKey][]*blockedClient
	byID  map[int64]*blockedClient
	// waiting mirrors len(byID), so that the applier takes the lock only
	// when someone waits.
	waiting atomic.Int64
}

func newBlockRegistry() *blockRegistry {
	return &blockRegistry{byKey: make(map[dbKey][]*blockedClient), byID: make(map[int64]*blockedClient)}
}

func (r *blockRegistry) add(bc *blockedClient) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID[bc.id] = bc
	r.waiting.Store(int64(len(r.byID)))
	for _, k := range bc.keys {
		wk := dbKey{bc.db, k}
		r.byKey[wk] = append(r.byKey[wk], bc)
	}
}

// remove forgets bc and wakes the client now first on each of its keys,
// which may be ready still: bc may have been woken and not popped.
func (r *blockRegistry) remove(bc *blockedClient) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, bc.id)
	r.waiting.Store(int64(len(r.byID)))
	for _, key := range bc.keys {
		k := dbKey{bc.db, key}
		q := r.byKey[k]
		for i, w := range q {
			if w == bc {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(r.byKey, k)
			continue
		}
		r.byKey[k] = q
		signal(q[0].wake)
	}
}

// changed wakes the oldest client blocked on each changed key, every
// key's after a FLUSHALL or a restore. It runs on the replica's applier.
func (r *blockRegistry) changed(c store.Changes) {
	if r.waiting.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.All {
		for _, q := range r.byKey {
			signal(q[0].wake)
		}
		return
	}
	wake := func(keys []string, dbs []int) {
		for i, k := range keys {
			if q := r.byKey[dbKey{dbs[i], k}]; len(q) > 0 {
				signal(q[0].wake)
			}
		}
	}
	wake(c.Keys, c.DBs)
	wake(c.Ready, c.ReadyDBs)
}

// count is how many clients wait in blocking commands (INFO's
// blocked_clients).
func (r *blockRegistry) count() int { return int(r.waiting.Load()) }

// unblock is CLIENT UNBLOCK: it reports whether client id was blocked.
func (r *blockRegistry) unblock(id int64, withError bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	bc, ok := r.byID[id]
	if !ok {
		return false
	}
	select {
	case bc.unblocked <- withError:
	default:
	}
	return true
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// blocks reports whether the command may make its client wait: a
// blocking pop, or XREAD (a read) or XREADGROUP (a write) with BLOCK.
func blocks(sc *store.Command, args [][]byte) bool {
	if !sc.Has("blocking") {
		return false
	}
	if sc.Writes() && sc.Name != "xreadgroup" {
		return true
	}
	_, _, ok := xreadBlock(args)
	return ok
}

// blockingWrite runs one blocking pop for client c on the replica rep.
func (s *Server) blockingWrite(conn redcon.Conn, c *client, rep *replica.Replica, sc *store.Command, args [][]byte) {
	if !checkArity(conn, sc, args) {
		return
	}
	if sc.Name == "xreadgroup" {
		s.blockingReadGroup(conn, c, rep, sc, args)
		return
	}
	timeout, msg := store.BlockingTimeout(args[store.TimeoutArg(sc.Name, args)])
	keys, ok := sc.KeysBySpecs(args)
	if msg != "" || !ok || len(keys) == 0 {
		// The store answers a malformed command, its errors in Redis's
		// order (BLMPOP's numkeys before its timeout).
		s.proposeBlocking(conn, rep, sc, args)
		return
	}
	var waitOn []string
	for _, k := range keys {
		// BLMOVE and BRPOPLPUSH wait on their source only.
		if len(waitOn) == 0 || sc.Name != "blmove" && sc.Name != "brpoplpush" {
			waitOn = append(waitOn, string(args[k.Pos]))
		}
	}
	first := true
	s.block(conn, c, rep, waitOn, timeout, true, func() bool {
		if !first && !s.anyReady(rep, c.db, waitOn, sc.Group) {
			return false
		}
		first = false
		return s.proposeBlocking(conn, rep, sc, args)
	})
}

// block waits, for client c, until try writes the reply (it reports
// whether it did): try runs at once, then again whenever the replica
// reports a change of one of keys, until the timeout (ms, 0: none) answers
// a null array, CLIENT UNBLOCK ends the wait or, with onLeader, the
// leader changes (try then answers MOVED).
func (s *Server) block(conn redcon.Conn, c *client, rep *replica.Replica, keys []string, timeout int64, onLeader bool, try func() bool) {
	bc := &blockedClient{id: c.id, db: c.db, keys: keys, wake: make(chan struct{}, 1), unblocked: make(chan bool, 1)}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Millisecond)
		defer t.Stop()
		expired = t.C
	}
	// Registered before the first try, so that clients take their
	// places in the order their commands arrive, as in Redis: a change
	// during the try wakes it again (bc.wake keeps one signal).
	s.blocked.add(bc)
	defer s.blocked.remove(bc)
	var hangup <-chan struct{}
	if c.guard != nil && c.outConn == nil {
		var stop func()
		hangup, stop = c.guard.watchHangup()
		defer stop()
	}
	for {
		var leaderChange <-chan struct{}
		if onLeader {
			leaderChange = rep.Node().LeaderWatch()
		}
		if try() {
			return
		}
		select {
		case <-bc.wake:
		case <-expired:
			writeReply(conn, c, nil, nullArray)
			return
		case withError := <-bc.unblocked:
			if withError {
				conn.WriteError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
			} else {
				writeReply(conn, c, nil, nullArray)
			}
			return
		case <-leaderChange:
		case <-hangup:
			// The client left: its wait ends, as Redis frees it.
			s.setClient(c, func(c *client) { c.dropped = true })
			return
		case <-s.closing:
			return
		}
	}
}

// blockingRead serves XREAD with BLOCK: a read that, finding nothing,
// waits for a change of one of its streams and reads again. "$" stands for
// each stream's last ID when the command arrived. The leader serves it
// after a ReadIndex round, a READONLY connection's node locally.
func (s *Server) blockingRead(conn redcon.Conn, c *client, rep *replica.Replica, sc *store.Command, args [][]byte) {
	timeout, streamsAt, ok := xreadBlock(args)
	if !ok {
		s.reads(conn, c, rep, []redcon.Command{{Args: args}}, []*store.Command{sc})
		return
	}
	if !s.readable(conn, c, rep, sc, args) {
		return
	}
	n := (len(args) - streamsAt) / 2
	keys := args[streamsAt : streamsAt+n]
	args = append([][]byte(nil), args...)
	last := rep.Store().LastStreamIDs(c.db, time.Now().UnixMilli(), keys)
	waitOn := make([]string, n)
	for i, k := range keys {
		waitOn[i] = string(k)
		if string(args[streamsAt+n+i]) == "$" {
			args[streamsAt+n+i] = []byte(last[i])
		}
	}
	first := true
	s.block(conn, c, rep, waitOn, timeout, !c.readonly, func() bool {
		if !c.readonly && !rep.Node().IsLeader() {
			s.redirect(conn, sc, args, rep.Node().Leader())
			return true
		}
		reply := rep.Store().ReadDB(c.db, time.Now().UnixMilli(), args, nil)
		// A stream replaced by another type keeps the client waiting,
		// as in Redis; only the first read answers WRONGTYPE.
		if string(reply) == "*-1\r\n" || !first && bytes.HasPrefix(reply, []byte("-WRONGTYPE")) {
			first = false
			return false
		}
		writeReply(conn, c, args, reply)
		return true
	})
}

// blockingReadGroup serves XREADGROUP with BLOCK: proposed at once, then
// again whenever one of its streams changes, until it answers anything but
// the null of nothing new (entries, or an error such as NOGROUP).
func (s *Server) blockingReadGroup(conn redcon.Conn, c *client, rep *replica.Replica, sc *store.Command, args [][]byte) {
	timeout, streamsAt, _ := xreadBlock(args)
	n := (len(args) - streamsAt) / 2
	waitOn := make([]string, n)
	for i, k := range args[streamsAt : streamsAt+n] {
		waitOn[i] = string(k)
	}
	// The streams as the command found them when it arrived: if they
	// were there, the command blocked then, as in Redis, and a deletion
	// or a change of type that its first try meets came after it.
	arrived := s.allStreams(rep, c.db, waitOn)
	first := true
	unblocked := func() bool {
		if (!first || arrived) && rep.Node().IsLeader() && !s.allStreams(rep, c.db, waitOn) {
			// As in Redis, a stream deleted or replaced while the
			// client waits ends the wait.
			conn.WriteError("UNBLOCKED the stream key no longer exists")
			return true
		}
		return false
	}
	s.block(conn, c, rep, waitOn, timeout, true, func() bool {
		if unblocked() {
			return true
		}
		first = false
		return s.proposeBlockingThen(conn, rep, sc, args, func(reply []byte) bool {
			// The try was proposed after the stream went away.
			return (bytes.HasPrefix(reply, []byte("-NOGROUP")) || bytes.HasPrefix(reply, []byte("-WRONGTYPE"))) && unblocked()
		})
	})
}

// allStreams reports whether every one of keys holds a stream in database
// db on this node now.
func (s *Server) allStreams(rep *replica.Replica, db int, keys []string) bool {
	for _, k := range keys {
		if typeOf(rep, db, k) != "+stream\r\n" {
			return false
		}
	}
	return true
}

// typeOf is TYPE's reply for key in database db on the replica now.
func typeOf(rep *replica.Replica, db int, key string) string {
	return string(rep.Store().ReadDB(db, time.Now().UnixMilli(), [][]byte{[]byte("type"), []byte(key)}, nil))
}

// xreadBlock finds the BLOCK timeout (ms) of XREAD or XREADGROUP and where
// its STREAMS keys start; ok is false when there is no BLOCK or the
// arguments do not parse, which the store then answers.
func xreadBlock(args [][]byte) (timeout int64, streamsAt int, ok bool) {
	block := false
	for i := 1; i < len(args)-1; i++ {
		switch {
		case strings.EqualFold(string(args[i]), "group"):
			i += 2
		case strings.EqualFold(string(args[i]), "noack"):
		case strings.EqualFold(string(args[i]), "block"):
			t, err := strconv.ParseInt(string(args[i+1]), 10, 64)
			if err != nil || t < 0 {
				return 0, 0, false
			}
			timeout, block = t, true
			i++
		case strings.EqualFold(string(args[i]), "count"):
			i++
		case strings.EqualFold(string(args[i]), "streams"):
			if (len(args)-i-1)%2 != 0 || !block {
				return 0, 0, false
			}
			return timeout, i + 1, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// proposeBlocking proposes the command once and reports whether it wrote
// the client's reply: anything but the null that means "nothing there".
func (s *Server) proposeBlocking(conn redcon.Conn, rep *replica.Replica, sc *store.Command, args [][]byte) bool {
	return s.proposeBlockingThen(conn, rep, sc, args, nil)
}

// proposeBlockingThen is proposeBlocking whose answered, if set, may
// answer an applied reply itself: it reports whether it did.
func (s *Server) proposeBlockingThen(conn redcon.Conn, rep *replica.Replica, sc *store.Command, args [][]byte,
	answered func(reply []byte) bool) bool {
	if !rep.Node().IsLeader() {
		s.redirect(conn, sc, args, rep.Node().Leader())
		return true
	}
	ctx := s.requests.get()
	if sc.DenyOOM() && !rep.Removal().AdmitWrite(ctx) {
		conn.WriteError(errOOM)
		return true
	}
	if s.noReplicas(rep) {
		conn.WriteError(errNoReplicas)
		return true
	}
	db := dbOf(clientOf(conn))
	v, err := rep.Node().Propose(ctx, replica.EncodeEntryDB(nil, replica.KindCommand, db, time.Now().UnixMilli(), args))
	reply, ok := v.([]byte)
	if err != nil || !ok {
		s.writeResult(conn, sc, args, consensus.Result{Val: v, Err: err})
		return true
	}
	if string(reply) == "*-1\r\n" || string(reply) == "$-1\r\n" {
		return false
	}
	if answered != nil && answered(reply) {
		return true
	}
	writeReply(conn, clientOf(conn), args, reply)
	return true
}

// anyReady reports whether one of keys holds a value of the type the
// blocking command of group ("list" or "sorted-set") pops on the replica
// now. A key that became another type keeps its clients waiting, as in
// Redis: only the first try answers WRONGTYPE.
func (s *Server) anyReady(rep *replica.Replica, db int, keys []string, group string) bool {
	want := "+list\r\n"
	if group == "sorted-set" {
		want = "+zset\r\n"
	}
	for _, k := range keys {
		if typeOf(rep, db, k) == want {
			return true
		}
	}
	return false
}
