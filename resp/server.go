package resp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
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

// Config configures a Server.
type Config struct {
	ID consensus.NodeID
	// Shutdown, if set, is what SHUTDOWN calls: it starts the process's
	// graceful stop and returns.
	Shutdown func()
	// ClusterID is handed to joining nodes for the transport handshake.
	ClusterID uint64
	// Addr is the client address this node listens on: INFO and CONFIG
	// GET port give its port. (MOVED and CLUSTER SLOTS name the member
	// list's address, which --announce-addr may set apart.)
	Addr string
	// ReadMode is "linearizable" or "lease" (reported by INFO; the core
	// decides how ReadIndex is served).
	ReadMode string
	// RequestTimeout bounds how long a write or read waits for the cluster.
	RequestTimeout time.Duration
	// MaxClients bounds concurrent connections; more are refused.
	MaxClients int
	// ElectionTimeout and HeartbeatInterval are reported by CONFIG GET.
	ElectionTimeout   time.Duration
	HeartbeatInterval time.Duration
	SnapshotEntries   uint64
	Dir               string
	Logger            *slog.Logger
	// ACL holds the users, shared with the state machine that applies
	// their changes (nil: only the default user, without a password).
	ACL *ACL
	// ACLFile is where ACL LOAD and ACL SAVE read and write ("": none).
	ACLFile string
	// ProtectedMode is reported by CONFIG GET (cmd/rkv enforces it).
	ProtectedMode bool
	// Limits bound what one client may send and leave unread (zero
	// value: DefaultLimits).
	Limits Limits
	// ConfigFile is the file CONFIG REWRITE writes ("": none, and CONFIG
	// REWRITE fails as Redis's does without one).
	ConfigFile string
	// FileDirectives are the names of the file's directives that are not
	// CONFIG parameters (rkv's flags): CONFIG REWRITE keeps their lines.
	FileDirectives []string
	// Params are values of CONFIG parameters the node starts with (from
	// the file and the flags), by parameter name.
	Params map[string]string
}

// Server is the RESP front end of one node.
type Server struct {
	cfg Config
	// home is the replica whose log holds the members and the ACL users,
	// and which answers for the cluster; route finds each key's replica.
	// They are one and the same until sharding.
	home    *replica.Replica
	route   *router
	logger  *slog.Logger
	started time.Time
	saves   saveState // SAVE and BGSAVE (persist.go)

	clientSeq  atomic.Int64
	clientsMu  sync.Mutex
	clients    map[int64]*client
	totalConns atomic.Int64
	totalCmds  atomic.Int64
	rejected   atomic.Int64

	requests requestContexts
	// watchers are the connections' WATCHes, told of each change the
	// home replica applies; stopWatching ends that subscription.
	watchers     *watchRegistry
	stopWatching func()
	// blocked are the clients in blocking commands, told of each change
	// the home replica applies; closing wakes them at Close.
	blocked     *blockRegistry
	stopBlocked func()
	closing     chan struct{}
	// migrate caches MIGRATE's connections to its targets.
	migrate *migrateCache
	// pubsub holds this node's subscriptions and gets the home replica's
	// applied publishes until stopPublishing.
	pubsub         *pubsubHub
	stopPublishing func()
	// stopKeyspace ends the delivery of keyspace notifications.
	stopKeyspace func()
	// tracking holds the connections' client-side caching state and
	// gets the home replica's changes until stopTracking.
	tracking     *trackingRegistry
	stopTracking func()
	monitors     *monitorHub
	stats        *commandStats
	slowlog      *slowlog
	latency      *latencyMonitor
	// minReplicas and minReplicasLag are min-replicas-to-write and
	// min-replicas-max-lag (replicas.go).
	minReplicas, minReplicasLag atomic.Int64
	acl                         *ACL
	// conns are the connection limits every guardConn reads.
	conns atomic.Pointer[Limits]
	// busyMs is busy-reply-threshold: after a script has run this many
	// milliseconds, other clients' commands are answered -BUSY.
	busyMs atomic.Int64
	// maxClients is maxclients: more connections are refused.
	maxClients atomic.Int64
	// cfgStored holds the CONFIG parameters rkv only stores, under cfgMu;
	// cfgSetMu lets one CONFIG SET run at a time, so that one's undoing
	// does not mix with another's changes (config.go).
	cfgMu     sync.Mutex
	cfgStored map[string]string
	cfgSetMu  sync.Mutex

	// serveMu orders Serve and Close; stopped is set by Close.
	serveMu sync.Mutex
	stopped bool
	rs      *redcon.Server
	ln      net.Listener
}

// client is the state of one connection.
type client struct {
	id       int64
	addr     string
	laddr    string
	name     string
	libName  string
	libVer   string
	readonly bool
	// db is the database SELECT chose.
	db int
	// resp3 is set by HELLO 3: replies go out in RESP3.
	resp3    bool
	created  time.Time
	lastCmd  string
	lastSeen time.Time
	// tx is set once, at accept, so that copies of the client (CLIENT
	// LIST) do not race with the connection's own use of it.
	tx *txState
	// user is the ACL user the connection acts as; authed is false until
	// it authenticates when the default user needs a password.
	user   string
	authed bool
	// tracked is set while the connection has CLIENT TRACKING on;
	// caching is CLIENT CACHING's flag (tracking.go).
	tracked bool
	caching int
	// stats counts the error replies of its commands.
	stats *commandStats
	// redirects holds the commands of the running step that were
	// redirected; a pointer so that copies (CLIENT LIST) do not race with
	// the connection's own use of it.
	redirects *redirectedCommands
	// reply is CLIENT REPLY's mode.
	reply replyMode
	// close closes the connection from another one (CLIENT KILL, ACL
	// DELUSER): its socket, not redcon's Conn, whose Close flushes the
	// connection's reply buffer and so would race with the connection's
	// own flush, sending a reply it already sent a second time.
	close func() error
	// wantsOutbox is set when another connection redirects invalidations
	// to this one: it opens its outbox (where pushes go) at its next
	// command.
	wantsOutbox *atomic.Bool
	// dropped is set when writing its replies failed, or by QUIT: the
	// rest of its pipeline is not run.
	dropped bool
	// guard reads the connection (nil for one not from Serve's
	// listener), set at accept.
	guard *guardConn
	// sub and outConn are set at the connection's first SUBSCRIBE,
	// PSUBSCRIBE or SSUBSCRIBE (pubsub.go); nsub, npsub and nssub count
	// its channels, patterns and shard channels.
	sub                *subscriber
	outConn            *outConn
	nsub, npsub, nssub int
}

// NewServer returns a server for the replica rep; call Serve to accept
// clients.
func NewServer(cfg Config, rep *replica.Replica) *Server {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 100 * time.Millisecond
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10000
	}
	if cfg.ReadMode == "" {
		cfg.ReadMode = "linearizable"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ACL == nil {
		cfg.ACL, _ = NewACL("", nil)
	}
	s := &Server{
		cfg:      cfg,
		home:     rep,
		route:    newRouter(rep),
		watchers: newWatchRegistry(),
		blocked:  newBlockRegistry(),
		closing:  make(chan struct{}),
		pubsub:   newPubsubHub(),
		logger:   cfg.Logger.With("node", cfg.ID),
		clients:  make(map[int64]*client),
		started:  time.Now(),
		requests: requestContexts{timeout: cfg.RequestTimeout},
		acl:      cfg.ACL,
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits()
	}
	s.conns.Store(&cfg.Limits)
	s.migrate = newMigrateCache(s.closing)
	s.busyMs.Store(defaultBusyMs)
	s.stopWatching = rep.Subscribe(s.watchers.changed)
	s.stopBlocked = rep.Subscribe(s.blocked.changed)
	s.stopPublishing = rep.OnPublish(s.pubsub.deliver)
	s.stopKeyspace = rep.Subscribe(s.publishKeyspace)
	s.tracking = newTrackingRegistry()
	s.monitors = newMonitorHub()
	s.stats = newCommandStats()
	s.slowlog = newSlowlog()
	s.latency = newLatencyMonitor()
	s.minReplicasLag.Store(10)
	s.maxClients.Store(int64(cfg.MaxClients))
	s.initConfig()
	rep.Removal().SetLatencyMonitor(s.latency.record)
	rep.MonitorScripts(s.monitorScript(rep))
	s.tracking.deliver, s.tracking.redirBroken = s.deliverInvalidation, s.redirectBroken
	s.stopTracking = rep.Subscribe(s.tracking.changed)
	dropUsers := s.dropUsers
	s.acl.removed.Store(&dropUsers)
	s.applyStartParams()
	return s
}

// dropUsers closes the connections authenticated as the named users.
func (s *Server) dropUsers(names []string) {
	for _, cl := range s.clientList() {
		if !slices.Contains(names, cl.user) {
			continue
		}
		s.clientsMu.Lock()
		target := s.clients[cl.id]
		s.clientsMu.Unlock()
		if target != nil {
			target.close()
		}
	}
}

// Serve accepts clients on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.serveMu.Lock()
	if s.stopped {
		s.serveMu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	rs := redcon.NewServerNetwork("tcp", ln.Addr().String(), s.handle, s.accept, s.closed)
	s.rs, s.ln = rs, ln
	s.serveMu.Unlock()
	go s.clientsCron()
	return rs.Serve(guardListener{ln, &s.conns})
}

// Close stops accepting clients and closes the open connections.
func (s *Server) Close() error {
	s.serveMu.Lock()
	defer s.serveMu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	s.stopWatching()
	s.stopBlocked()
	close(s.closing)
	s.stopPublishing()
	s.stopKeyspace()
	s.stopTracking()
	if s.rs == nil {
		return nil
	}
	// Closed here too: a Close that comes before redcon took the
	// listener would not reach it.
	s.ln.Close()
	return s.rs.Close()
}

func (s *Server) accept(conn redcon.Conn) bool {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if int64(len(s.clients)) >= s.maxClients.Load() {
		s.rejected.Add(1)
		conn.WriteError("ERR max number of clients reached")
		return false
	}
	now := time.Now()
	c := &client{id: s.clientSeq.Add(1), addr: conn.RemoteAddr(), created: now, lastSeen: now, tx: &txState{}, redirects: &redirectedCommands{},
		user: "default", authed: !s.acl.PasswordRequired(), close: conn.Close, wantsOutbox: new(atomic.Bool), stats: s.stats}
	if nc := conn.NetConn(); nc != nil {
		c.laddr = nc.LocalAddr().String()
		c.guard, _ = nc.(*guardConn)
		c.close = nc.Close
	}
	s.clients[c.id] = c
	conn.SetContext(c)
	s.totalConns.Add(1)
	return true
}

func (s *Server) closed(conn redcon.Conn, _ error) {
	if c, ok := conn.Context().(*client); ok {
		s.unwatch(c.tx)
		s.tracking.forget(c.id)
		if c.sub != nil {
			s.pubsub.forget(c.sub)
			s.monitors.remove(c.sub)
			c.sub.out.kill()
		}
		s.clientsMu.Lock()
		delete(s.clients, c.id)
		s.clientsMu.Unlock()
	}
}

// handle takes one command plus everything already pipelined behind it, so
// that consecutive writes are proposed together and consecutive reads share
// one ReadIndex round.
func (s *Server) handle(conn redcon.Conn, first redcon.Command) {
	defer func() {
		// A bug met by one client's command must not take the node down.
		if p := recover(); p != nil {
			s.logger.Error("command panicked; closing the connection", "command", string(first.Args[0]), "panic", p)
			conn.WriteError("ERR internal error")
			conn.Close()
		}
	}()
	cmds := append([]redcon.Command{first}, conn.ReadPipeline()...)
	c, _ := conn.Context().(*client)
	s.totalCmds.Add(int64(len(cmds)))
	scs := make([]*store.Command, len(cmds))
	for i, cmd := range cmds {
		scs[i], _ = store.Lookup(cmd.Args[0])
	}
	// From its first SUBSCRIBE on, a connection's replies go through its
	// outbox, in order with the messages pushed to it.
	if c.sub == nil && (subscribes(cmds, scs) || c.wantsOutbox.Load()) {
		s.openOutbox(conn, c)
	}
	if c.outConn != nil {
		conn = c.outConn
	}
	if !s.admissible(conn, c) {
		return
	}
	if c.tracked {
		s.trackingBegin(c, cmds, scs)
		defer s.tracking.end(c.id)
	}
	// Checked as each command's turn comes: an AUTH earlier in the
	// pipeline changes the answer for the commands after it. A known
	// command's wrong arity or unknown subcommand is answered first, as
	// Redis's processCommand checks them before authentication and ACLs.
	refused := func(i int) string {
		if msg := malformed(scs[i], cmds[i].Args); msg != "" {
			return msg
		}
		if msg := s.refusal(c, cmds[i].Args); msg != "" {
			return msg
		}
		return s.busyRefusal(cmds[i].Args)
	}
	for i := 0; i < len(cmds); {
		if !s.flushOutput(conn, c) {
			return
		}
		if c.caching != cachingOff {
			cachingStep(c, cmds[i].Args)
		}
		if crossProtocol(cmds[i].Args) {
			s.logger.Warn("possible security attack: an HTTP request line on the client port; connection closed", "client", conn.RemoteAddr())
			conn.Close()
			return
		}
		// CLIENT REPLY ON turns replies on before it answers; any other
		// command, CLIENT REPLY's errors too, answers in the mode.
		if args := cmds[i].Args; c.reply == replyOn || len(args) == 3 && isClientSub(args, "reply") && bytes.EqualFold(args[2], []byte("on")) {
			i = s.step(conn, c, cmds, scs, i, refused)
			continue
		}
		// CLIENT REPLY OFF or SKIP: the command runs alone, its reply
		// dropped.
		if c.reply == replySkip {
			c.reply = replyOn
		}
		dropped := &capturedConn{Conn: conn}
		i = s.step(dropped, c, cmds[:i+1], scs[:i+1], i, refused)
		if dropped.closed {
			conn.Close()
		}
	}
	var last string
	if sc := scs[len(cmds)-1]; sc != nil {
		last = sc.Name // the table's name: no lower-casing copy per request
	} else if sp, ok := specFor(cmds[len(cmds)-1].Args); ok {
		last = sp.Name
	} else {
		last = strings.ToLower(string(cmds[len(cmds)-1].Args[0]))
	}
	s.setClient(c, func(c *client) {
		c.lastCmd = last
		c.lastSeen = time.Now()
	})
}

// step runs cmds[i] and, when they can go with it, the commands after it
// (consecutive writes proposed together, consecutive reads after one
// ReadIndex round), and returns the index of the next command to run.
func (s *Server) step(conn redcon.Conn, c *client, cmds []redcon.Command, scs []*store.Command, i int, refused func(int) string) int {
	if msg := refused(i); msg != "" {
		s.stats.replied(cmds[i].Args, msg, true)
		if c.tx.multi && strings.EqualFold(string(cmds[i].Args[0]), "exec") {
			// A refused EXEC ends its transaction, as Redis's
			// execCommandAbort: nothing of it runs.
			s.endTransaction(c.tx)
			msg = "EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR ")
		} else if c.tx.multi {
			c.tx.dirty = true
		}
		conn.WriteError(msg)
		return i + 1
	}
	if c.subscribed() && !c.resp3 {
		if msg := subscribedRefusal(cmds[i].Args); msg != "" {
			s.stats.replied(cmds[i].Args, msg, true)
			conn.WriteError(msg)
			return i + 1
		}
	}
	start := time.Now()
	c.redirects.reset()
	next := s.run(conn, c, cmds, scs, i, refused)
	elapsed := time.Since(start)
	s.stats.ran(cmds[i:next], elapsed, c.redirects)
	s.slowlog.ran(c, cmds[i:next], elapsed)
	s.latency.ranCommands(cmds[i:next], elapsed)
	return next
}

// run runs cmds[i], which passed the checks step makes, with the commands
// after it that go with it, and returns the index of the next command.
func (s *Server) run(conn redcon.Conn, c *client, cmds []redcon.Command, scs []*store.Command, i int, refused func(int) string) int {
	if s.monitors.count.Load() > 0 {
		s.monitorStep(c, cmds[i].Args)
	}
	if s.transaction(conn, c, cmds[i], scs[i]) {
		return i + 1
	}
	sc := scs[i]
	if sc == nil {
		s.admin(conn, c, cmds[i])
		return i + 1
	}
	rep := s.route.forCommand(sc, cmds[i].Args)
	if blocks(sc, cmds[i].Args) {
		if sc.Writes() {
			s.blockingWrite(conn, c, rep, sc, cmds[i].Args)
		} else {
			s.blockingRead(conn, c, rep, sc, cmds[i].Args)
		}
		return i + 1
	}
	j := i + 1
	for j < len(cmds) && scs[j] != nil && scs[j].Writes() == sc.Writes() && !blocks(scs[j], cmds[j].Args) && refused(j) == "" && !crossProtocol(cmds[j].Args) &&
		s.route.forCommand(scs[j], cmds[j].Args) == rep {
		if s.monitors.count.Load() > 0 {
			s.monitors.feed(c, c.db, cmds[j].Args)
		}
		j++
	}
	if sc.Writes() {
		s.writes(conn, rep, cmds[i:j], scs[i:j])
	} else {
		s.reads(conn, c, rep, cmds[i:j], scs[i:j])
	}
	return j
}

// malformed returns the error for a known command of the wrong arity or
// with an unknown subcommand, or "".
func malformed(sc *store.Command, args [][]byte) string {
	if sc != nil {
		if !sc.ArityOK(len(args)) {
			return arityError(sc.Name)
		}
		return ""
	}
	// EXEC's wrong arity discards a transaction in any state, which
	// transaction answers.
	name := strings.ToLower(string(args[0]))
	if svc, ok := serverCommands[name]; ok && name != "exec" {
		return checkServerCommand(svc, args)
	}
	return ""
}

// checkArity answers a wrong arity itself so bad commands never reach the log.
func checkArity(conn redcon.Conn, sc *store.Command, args [][]byte) bool {
	if !sc.ArityOK(len(args)) {
		msg := arityError(sc.Name)
		if c := clientOf(conn); c != nil {
			c.stats.replied(args, msg, true)
		}
		conn.WriteError(msg)
		return false
	}
	return true
}

func arityError(name string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s' command", name)
}

// Error replies several commands give.
const (
	errSyntax     = "ERR syntax error"
	errNotInteger = "ERR value is not an integer or out of range"
	errNoLeader   = "CLUSTERDOWN No leader elected yet, try again later"
	// errOutcomeUnknown begins the reply to a write that may or may not
	// have been applied (see writeResult).
	errOutcomeUnknown = "TIMEOUT the write's outcome is unknown: "
)

// redirect answers a command this node cannot serve: MOVED to the leader,
// or CLUSTERDOWN when none is known.
func (s *Server) redirect(conn redcon.Conn, sc *store.Command, args [][]byte, leader consensus.NodeID) {
	// A redirect refuses the command before it runs, as Redis's cluster
	// redirections do: counted as rejected, not as a call, and its error
	// once, though writeResult's conn counts the errors it writes.
	if ec, ok := conn.(*errorCountingConn); ok {
		conn = ec.Conn
	}
	s.stats.replied(args, "MOVED", true)
	if c := clientOf(conn); c != nil && c.redirects != nil {
		c.redirects.add(args)
	}
	if leader == consensus.None || leader == s.cfg.ID {
		conn.WriteError(errNoLeader)
		return
	}
	m, ok := s.home.Members().Get(leader)
	if !ok {
		conn.WriteError("CLUSTERDOWN The leader's address is unknown, try again later")
		return
	}
	conn.WriteError(fmt.Sprintf("MOVED %d %s", commandSlot(sc, args), m.ClientAddr))
}

// commandSlot is the hash slot of the command's first key, 0 if it has
// none; the key specs find the keys of a command whose arguments locate
// them (EVAL, ZUNION, XREAD...).
func commandSlot(sc *store.Command, args [][]byte) int {
	if sc.FirstKey > 0 && sc.FirstKey < len(args) {
		return store.KeySlot(args[sc.FirstKey])
	}
	if sc.Keyless() {
		return 0
	}
	if keys, ok := sc.KeysBySpecs(args); ok && len(keys) > 0 {
		return store.KeySlot(args[keys[0].Pos])
	}
	return 0
}

// writes proposes consecutive write commands of the replica rep together;
// scs[i] is cmds[i]'s table entry.
func (s *Server) writes(conn redcon.Conn, rep *replica.Replica, cmds []redcon.Command, scs []*store.Command) {
	if s.noReplicas(rep) {
		for i, cmd := range cmds {
			if checkArity(conn, scs[i], cmd.Args) {
				s.stats.replied(cmd.Args, errNoReplicas, true)
				conn.WriteError(errNoReplicas)
			}
		}
		return
	}
	ctx := s.requests.get()
	stamp := time.Now().UnixMilli()
	db := dbOf(clientOf(conn))
	oom := denyOOM(scs) && !rep.Removal().AdmitWrite(ctx)
	datas := make([][]byte, 0, len(cmds))
	valid := make([]bool, len(cmds))
	for i, cmd := range cmds {
		if scs[i].ArityOK(len(cmd.Args)) && !(oom && scs[i].DenyOOM()) {
			valid[i] = true
			datas = append(datas, replica.EncodeEntryDB(nil, replica.KindCommand, db, stamp, cmd.Args))
		}
	}
	// No results (on a follower) means every valid command is redirected.
	var results []consensus.Result
	if len(datas) > 0 && rep.Node().IsLeader() {
		results = rep.Node().ProposeMany(ctx, datas)
	}
	k := 0
	for i, cmd := range cmds {
		sc := scs[i]
		if !valid[i] {
			if checkArity(conn, sc, cmd.Args) {
				conn.WriteError(errOOM)
			}
			continue
		}
		if results == nil {
			s.redirect(conn, sc, cmd.Args, rep.Node().Leader())
			continue
		}
		r := results[k]
		k++
		s.writeResult(conn, sc, cmd.Args, r)
	}
}

// propose sends the entry entry() builds through rep's log and writes its
// reply; a follower redirects the command (route, args) to the leader.
func (s *Server) propose(conn redcon.Conn, rep *replica.Replica, route *store.Command, args [][]byte, entry func() []byte) {
	if !rep.Node().IsLeader() {
		s.redirect(conn, route, args, rep.Node().Leader())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	v, err := rep.Node().Propose(ctx, entry())
	s.writeResult(conn, route, args, consensus.Result{Val: v, Err: err})
}

func (s *Server) writeResult(conn redcon.Conn, sc *store.Command, args [][]byte, r consensus.Result) {
	if r.Err == nil {
		if out, ok := r.Val.([]byte); ok {
			writeReply(conn, clientOf(conn), args, out)
		} else {
			conn.WriteError("ERR internal error: no reply")
		}
		return
	}
	conn = &errorCountingConn{Conn: conn, stats: s.stats, args: args}
	// Declared only here: taking its address makes it escape, an
	// allocation every successful write would pay.
	var nle *consensus.NotLeaderError
	switch {
	case errors.As(r.Err, &nle):
		s.redirect(conn, sc, args, nle.Leader)
	case errors.Is(r.Err, consensus.ErrProposalDropped), errors.Is(r.Err, consensus.ErrConfChangePending):
		conn.WriteError("TRYAGAIN the write was not accepted (leadership changing), please retry")
	case errors.Is(r.Err, consensus.ErrUnsafeConfChange):
		conn.WriteError("ERR cannot remove the only voter of the cluster")
	case errors.Is(r.Err, consensus.ErrStorageFailed):
		conn.WriteError(errMisconf(r.Err))
	// An outcome rkv cannot know gets TIMEOUT, a prefix of its own. Clients
	// take an error reply to mean the command did not run: ERR would say
	// so, and TRYAGAIN (like LOADING or CLUSTERDOWN) is one go-redis and
	// other clients retry by themselves, applying a non-idempotent write
	// (INCR, LPUSH) twice. Redis has no error for "may have run"; TIMEOUT
	// names the case, is not retried by go-redis, and leaves the retry to
	// the application, which alone knows whether the write is idempotent.
	case errors.Is(r.Err, context.DeadlineExceeded):
		conn.WriteError(errOutcomeUnknown + "no quorum answered in time")
	case errors.Is(r.Err, consensus.ErrOutcomeUnknown):
		conn.WriteError(errOutcomeUnknown + "a snapshot from the leader replaced the log around it")
	default:
		conn.WriteError("ERR " + r.Err.Error())
	}
}

// reads serves consecutive read commands of the replica rep after one
// ReadIndex round (or locally with READONLY); scs[i] is cmds[i]'s table
// entry.
func (s *Server) reads(conn redcon.Conn, c *client, rep *replica.Replica, cmds []redcon.Command, scs []*store.Command) {
	now := time.Now().UnixMilli()
	local := c != nil && c.readonly
	if !local {
		if !rep.Node().IsLeader() {
			for i, cmd := range cmds {
				sc := scs[i]
				if !checkArity(conn, sc, cmd.Args) {
					continue
				}
				if sc.Keyless() {
					// Keyless reads (DBSIZE, KEYS, SCAN) are served by the
					// node asked, as a Redis replica does.
					writeReply(conn, c, cmd.Args, rep.Store().ReadDB(dbOf(c), now, cmd.Args, nil))
					continue
				}
				s.redirect(conn, sc, cmd.Args, rep.Node().Leader())
			}
			return
		}
		ctx := s.requests.get()
		// Over maxmemory, the leader evicts before it serves any command,
		// reads too, as Redis does: what a client reads next (and the
		// invalidations it is sent) already reflects the eviction.
		rep.Removal().AdmitWrite(ctx)
		err := rep.Node().ReadIndex(ctx)
		if err != nil {
			for i, cmd := range cmds {
				s.writeResult(conn, scs[i], cmd.Args, consensus.Result{Err: err})
			}
			return
		}
		now = time.Now().UnixMilli()
	}
	var out []byte
	unchecked := 0
	for i, cmd := range cmds {
		if !checkArity(conn, scs[i], cmd.Args) {
			continue
		}
		out = rep.Store().ReadDB(c.db, now, cmd.Args, out[:0])
		writeReply(conn, c, cmd.Args, out)
		if c.tracked {
			s.rememberRead(c, cmd.Args)
		}
		// flushOutput measures redcon's buffer by copying it, so it is
		// asked only once these replies alone could reach its smallest
		// threshold; handle asks again before the next run of commands.
		if unchecked += len(out); unchecked < outputChunk {
			continue
		}
		unchecked = 0
		if !s.flushOutput(conn, c) {
			return
		}
	}
}

// readable reports whether a read of rep may be served here now, as one
// command served alone (a script, a blocking read) is: locally under
// READONLY, else on the leader after a ReadIndex round. If not, it has
// answered the command (MOVED, CLUSTERDOWN or the round's error).
func (s *Server) readable(conn redcon.Conn, c *client, rep *replica.Replica, sc *store.Command, args [][]byte) bool {
	if c.readonly {
		return true
	}
	if !rep.Node().IsLeader() {
		s.redirect(conn, sc, args, rep.Node().Leader())
		return false
	}
	if err := rep.Node().ReadIndex(s.requests.get()); err != nil {
		s.writeResult(conn, sc, args, consensus.Result{Err: err})
		return false
	}
	return true
}

func (s *Server) clientList() []*client {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	out := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		cp := *c
		out = append(out, &cp)
	}
	return out
}

func nodeName(id consensus.NodeID) string { return fmt.Sprintf("%040x", uint64(id)) }

func splitHostPort(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}
