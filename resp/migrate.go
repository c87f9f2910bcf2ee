package resp

// MIGRATE: the leader moves keys to another server, then deletes them
// through the log.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){"migrate": (*Server).cmdMigrate})
}

var migrateRoute = routeOf("migrate")

// migrateOpts are MIGRATE's arguments.
type migrateOpts struct {
	host, port     string
	db             int64
	timeout        time.Duration
	copy, replace  bool
	user, password []byte // what AUTH and AUTH2 give; without a user, AUTH sends the password alone
	auth           bool
	keys           [][]byte
}

// parseMigrate reads MIGRATE host port key|"" destination-db timeout
// [COPY] [REPLACE] [AUTH password | AUTH2 username password] [KEYS key...]
// in the order Redis 7.0's migrateCommand does: the options, then the
// timeout, then the db. It returns the error reply for bad arguments.
func parseMigrate(args [][]byte) (o migrateOpts, msg string) {
	o.host, o.port = string(args[1]), string(args[2])
	o.keys = args[3:4]
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		switch strings.ToLower(string(args[j])) {
		case "copy":
			o.copy = true
		case "replace":
			o.replace = true
		case "auth":
			if more < 1 {
				return o, errSyntax
			}
			// As in Redis, a username an earlier AUTH2 gave stays.
			j++
			o.auth, o.password = true, args[j]
		case "auth2":
			if more < 2 {
				return o, errSyntax
			}
			o.auth, o.user, o.password = true, args[j+1], args[j+2]
			j += 2
		case "keys":
			if len(args[3]) != 0 {
				return o, "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
			}
			o.keys = args[j+1:]
			j = len(args)
		default:
			return o, errSyntax
		}
	}
	timeout, err := strconv.ParseInt(string(args[5]), 10, 64)
	if err != nil {
		return o, errNotInteger
	}
	if o.db, err = strconv.ParseInt(string(args[4]), 10, 64); err != nil {
		return o, errNotInteger
	}
	if timeout <= 0 {
		timeout = 1000
	}
	o.timeout = time.Duration(min(timeout, int64(1<<62)/int64(time.Millisecond))) * time.Millisecond
	return o, ""
}

// Errors MIGRATE replies, as Redis's.
const (
	errMigrateConnect = "IOERR error or timeout connecting to the client"
	errMigrateWrite   = "IOERR error or timeout writing to target instance"
	errMigrateRead    = "IOERR error or timeout reading to target instance"
	// errMigrateChanged is rkv's own: a key written here between its
	// move and its deletion (Redis, single-threaded, has no such
	// moment) is kept, and so are the others moved with it.
	errMigrateChanged = "ERR MIGRATE copied the keys, but one changed here while they moved: none deleted"
)

// cmdMigrate serves MIGRATE as Redis 7.0's migrateCommand: only the
// leader of the keys' slot reads them (after a ReadIndex round) and talks
// to the target, over a connection of its cache; the keys the target
// acknowledged are then deleted, unless COPY, by one transaction through
// the log conditioned on their being unchanged since they were read, so
// every replica deletes the same keys and a write that came in between
// is never lost.
func (s *Server) cmdMigrate(conn redcon.Conn, c *client, args [][]byte) {
	o, msg := parseMigrate(args)
	if msg != "" {
		conn.WriteError(msg)
		return
	}
	rep := s.route.forSlot(commandSlot(migrateRoute, args))
	if !rep.Node().IsLeader() {
		s.redirect(conn, migrateRoute, args, rep.Node().Leader())
		return
	}
	if err := rep.Node().ReadIndex(s.requests.get()); err != nil {
		s.writeResult(conn, migrateRoute, args, consensus.Result{Err: err})
		return
	}
	dumped := rep.Store().DumpKeys(c.db, time.Now().UnixMilli(), o.keys)
	if len(dumped) == 0 {
		conn.WriteString("NOKEY")
		return
	}
	acked, reply := s.migrate.send(o, dumped)
	if len(acked) > 0 && !o.copy && !s.deleteMoved(conn, rep, c.db, args, acked) {
		return
	}
	if strings.HasPrefix(reply, "-") {
		conn.WriteError(reply[1:])
		return
	}
	conn.WriteString(reply)
}

// deleteMoved deletes the moved keys of database db through the log,
// each only if unchanged since its mark; if that did not happen it has
// answered.
func (s *Server) deleteMoved(conn redcon.Conn, rep *replica.Replica, db int, args [][]byte, marks []store.WatchMark) bool {
	del := [][]byte{[]byte("del")}
	for _, m := range marks {
		del = append(del, m.Key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	entry := replica.EncodeEntryDB(nil, replica.KindExec, db, time.Now().UnixMilli(), store.ExecArgs(marks, [][][]byte{del}))
	v, err := rep.Node().Propose(ctx, entry)
	out, ok := v.([]byte)
	if err != nil || !ok {
		s.writeResult(conn, migrateRoute, args, consensus.Result{Val: v, Err: err})
		return false
	}
	if _, r := redcon.ReadNextRESP(out); r.Type == redcon.Array && r.Count < 0 {
		conn.WriteError(errMigrateChanged)
		return false
	}
	return true
}

// Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL.
const (
	migrateCacheMax  = 64
	migrateCacheIdle = 10 * time.Second
)

// migrateCache holds connections to MIGRATE's targets, one per host:port,
// each closed after migrateCacheIdle unused (by a goroutine that runs
// while the cache is not empty) or on its first error.
type migrateCache struct {
	closing <-chan struct{}
	mu      sync.Mutex
	conns   map[string]*migrateConn
	sweeper bool // the goroutine closing idle connections runs
	stopped bool
}

// migrateConn is a connection to a target. mu is held by the one MIGRATE
// using it, and guards lastDB and closed; lastUse is guarded by the
// cache's mu.
type migrateConn struct {
	mu      sync.Mutex
	name    string // host:port
	conn    net.Conn
	rd      *bufio.Reader
	lastDB  int64 // -1: SELECT before the next RESTORE
	lastUse time.Time
	closed  bool
}

func newMigrateCache(closing <-chan struct{}) *migrateCache {
	return &migrateCache{closing: closing, conns: map[string]*migrateConn{}}
}

// size is INFO's migrate_cached_sockets.
func (mc *migrateCache) size() int {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return len(mc.conns)
}

// get returns the connection to host:port, locked for the caller, from
// the cache or dialled within timeout (then cached, dropping an idle one
// when the cache is full; if every one is busy it is used uncached).
func (mc *migrateCache) get(host, port string, timeout time.Duration) (*migrateConn, error) {
	name := host + ":" + port
	for {
		mc.mu.Lock()
		cs := mc.conns[name]
		if cs != nil {
			cs.lastUse = time.Now()
		}
		mc.mu.Unlock()
		if cs == nil {
			break
		}
		cs.mu.Lock()
		if !cs.closed {
			return cs, nil
		}
		cs.mu.Unlock()
	}
	p, _ := strconv.Atoi(port) // as Redis's atoi: a bad port is 0, which no connect reaches
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(p)), timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	cs := &migrateConn{name: name, conn: c, rd: bufio.NewReader(c), lastDB: -1, lastUse: time.Now()}
	cs.mu.Lock()
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.stopped || mc.conns[name] != nil || len(mc.conns) >= migrateCacheMax && !mc.dropIdle() {
		return cs, nil // used once, uncached
	}
	mc.conns[name] = cs
	if !mc.sweeper {
		mc.sweeper = true
		go mc.sweep()
	}
	return cs, nil
}

// dropIdle closes one connection no MIGRATE is using, as Redis drops one
// at random when its cache is full. The caller holds mc.mu.
func (mc *migrateCache) dropIdle() bool {
	for name, cs := range mc.conns {
		if cs.mu.TryLock() {
			mc.closeLocked(name, cs)
			cs.mu.Unlock()
			return true
		}
	}
	return false
}

// closeLocked closes cs and forgets it; the caller holds mc.mu and cs.mu.
func (mc *migrateCache) closeLocked(name string, cs *migrateConn) {
	if mc.conns[name] == cs {
		delete(mc.conns, name)
	}
	cs.closed = true
	cs.conn.Close()
}

// release hands cs back, closing it when broken or not cached.
func (mc *migrateCache) release(cs *migrateConn, broken bool) {
	mc.mu.Lock()
	if broken || mc.conns[cs.name] != cs {
		mc.closeLocked(cs.name, cs)
	}
	mc.mu.Unlock()
	cs.mu.Unlock()
}

// sweep closes the connections unused for migrateCacheIdle, once a
// second, until the cache is empty or the server closes.
func (mc *migrateCache) sweep() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-mc.closing:
			mc.closeAll()
			return
		case now := <-tick.C:
			mc.mu.Lock()
			for name, cs := range mc.conns {
				if now.Sub(cs.lastUse) >= migrateCacheIdle && cs.mu.TryLock() {
					mc.closeLocked(name, cs)
					cs.mu.Unlock()
				}
			}
			if len(mc.conns) == 0 {
				mc.sweeper = false
				mc.mu.Unlock()
				return
			}
			mc.mu.Unlock()
		}
	}
}

// closeAll closes every idle connection and caches no more; one in use
// is closed by its MIGRATE when done.
func (mc *migrateCache) closeAll() {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	mc.stopped = true
	for name, cs := range mc.conns {
		if cs.mu.TryLock() {
			mc.closeLocked(name, cs)
			cs.mu.Unlock()
		} else {
			delete(mc.conns, name)
		}
	}
}

// send moves the dumped keys to o's target as Redis's migrateCommand
// does: AUTH if asked, SELECT unless the connection has the db selected,
// one RESTORE per key, all written at once, then their replies read in
// turn. It returns the marks of the keys the target restored and the
// reply ("OK" or an error line, "-" first). A connection error before any reply
// retries once on a new connection, unless it was a timeout.
func (mc *migrateCache) send(o migrateOpts, dumped []store.Dumped) (acked []store.WatchMark, reply string) {
	retry := true
	for {
		cs, err := mc.get(o.host, o.port, o.timeout)
		var dnsErr *net.DNSError
		switch {
		case err != nil && (isTimeout(err) || errors.As(err, &dnsErr)):
			return nil, "-" + errMigrateConnect
		case err != nil:
			// Redis connects without blocking, and learns that the
			// target refused only when it writes.
			err = fmt.Errorf("%w: %w", errWriting, err)
		default:
			var broken bool
			acked, reply, broken, err = cs.exchange(o, dumped, retry)
			mc.release(cs, broken || err != nil)
			if err == nil {
				return acked, reply
			}
		}
		if retry && !isTimeout(err) {
			retry = false
			continue
		}
		if errors.Is(err, errWriting) {
			return nil, "-" + errMigrateWrite
		}
		return nil, "-" + errMigrateRead
	}
}

// errWriting marks an exchange that failed writing its request.
var errWriting = errors.New("writing to the target")

// exchange runs one attempt of send on cs. It returns an error when the
// attempt failed with nothing restored (send may retry); otherwise the
// keys restored and the reply, and whether cs broke on the way.
func (cs *migrateConn) exchange(o migrateOpts, dumped []store.Dumped, retry bool) (acked []store.WatchMark, reply string, broken bool, err error) {
	var req []byte
	if o.auth {
		if o.user != nil {
			req = redcon.AppendArray(req, 3)
			req = redcon.AppendBulkString(req, "AUTH")
			req = redcon.AppendBulk(req, o.user)
		} else {
			req = redcon.AppendArray(req, 2)
			req = redcon.AppendBulkString(req, "AUTH")
		}
		req = redcon.AppendBulk(req, o.password)
	}
	sel := cs.lastDB != o.db
	if sel {
		req = redcon.AppendArray(req, 2)
		req = redcon.AppendBulkString(req, "SELECT")
		req = redcon.AppendBulkString(req, strconv.FormatInt(o.db, 10))
	}
	for _, d := range dumped {
		n := 4
		if o.replace {
			n = 5
		}
		req = redcon.AppendArray(req, n)
		req = redcon.AppendBulkString(req, "RESTORE")
		req = redcon.AppendBulk(req, d.Mark.Key)
		req = redcon.AppendBulkString(req, strconv.FormatInt(d.TTL, 10))
		req = redcon.AppendBulk(req, d.Payload)
		if o.replace {
			req = redcon.AppendBulkString(req, "REPLACE")
		}
	}
	for len(req) > 0 {
		chunk := req[:min(len(req), 64<<10)]
		cs.conn.SetWriteDeadline(time.Now().Add(o.timeout))
		if _, err := cs.conn.Write(chunk); err != nil {
			return nil, "", true, fmt.Errorf("%w: %w", errWriting, err)
		}
		req = req[len(chunk):]
	}
	var authReply, selReply string
	if o.auth {
		if authReply, err = cs.readLine(o.timeout); err != nil {
			return nil, "", true, err
		}
	}
	if sel {
		if selReply, err = cs.readLine(o.timeout); err != nil {
			return nil, "", true, err
		}
	}
	targetErr := ""
	for j, d := range dumped {
		line, err := cs.readLine(o.timeout)
		if err != nil {
			if targetErr == "" && j == 0 && retry && !isTimeout(err) {
				return nil, "", true, err
			}
			if targetErr != "" {
				return acked, targetErr, true, nil
			}
			return acked, "-" + errMigrateRead, true, nil
		}
		switch {
		case o.auth && strings.HasPrefix(authReply, "-"):
			line = authReply
		case sel && strings.HasPrefix(selReply, "-"):
			line = selReply
		}
		if strings.HasPrefix(line, "-") {
			if targetErr == "" {
				cs.lastDB = -1
				targetErr = "-ERR Target instance replied with error: " + line[1:]
			}
			continue
		}
		acked = append(acked, d.Mark)
	}
	if targetErr != "" {
		return acked, targetErr, false, nil
	}
	cs.lastDB = o.db
	return acked, "OK", false, nil
}

// isTimeout tells whether err is a deadline passing, which MIGRATE never
// retries (Redis's ETIMEDOUT).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// migrateLineMax is the longest reply line MIGRATE reads, as Redis's
// 1024-byte buffers: a longer one is cut.
const migrateLineMax = 1023

// readLine reads one reply line within timeout, without its CRLF.
func (cs *migrateConn) readLine(timeout time.Duration) (string, error) {
	cs.conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := cs.rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	return line[:min(len(line), migrateLineMax)], nil
}
