package resp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// serverCommand is a command the front end answers itself: its entry in
// the command table and its executor.
type serverCommand struct {
	spec *command.Spec
	run  func(s *Server, conn redcon.Conn, c *client, args [][]byte)
}

var serverCommands = map[string]*serverCommand{}

// addServerCommands registers executors of server commands by name; each
// must be in the command table.
func addServerCommands(runs map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte)) {
	for name, run := range runs {
		spec, ok := command.Lookup([]byte(name))
		if !ok {
			panic("resp: no command table entry for " + name)
		}
		serverCommands[name] = &serverCommand{spec: spec, run: run}
	}
}

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){
		"ping": (*Server).cmdPing, "echo": (*Server).cmdEcho, "quit": (*Server).cmdQuit,
		"select": (*Server).cmdSelect, "hello": (*Server).cmdHello, "auth": (*Server).cmdAuth,
		"client": (*Server).cmdClient, "command": (*Server).cmdCommand, "config": (*Server).cmdConfig,
		"info": (*Server).cmdInfo, "time": (*Server).cmdTime, "role": (*Server).cmdRole,
		"cluster": (*Server).cmdCluster, "readonly": (*Server).cmdReadonly, "readwrite": (*Server).cmdReadwrite,
		"multi": (*Server).cmdMulti, "exec": (*Server).cmdExec, "discard": (*Server).cmdDiscard,
		"watch": (*Server).cmdWatch, "unwatch": (*Server).cmdUnwatch,
	})
}

func (s *Server) admin(conn redcon.Conn, c *client, cmd redcon.Command) {
	name := strings.ToLower(string(cmd.Args[0]))
	sc, ok := serverCommands[name]
	if !ok {
		conn.WriteError(unknownCommand(cmd.Args))
		return
	}
	if msg := checkServerCommand(sc, cmd.Args); msg != "" {
		conn.WriteError(msg)
		return
	}
	sc.run(s, conn, c, cmd.Args)
}

// checkServerCommand returns the error for a server command of the wrong
// arity, or of an unknown subcommand or a subcommand's wrong arity, or "":
// checked before the command runs (in a transaction, when it is queued),
// as Redis does.
func checkServerCommand(sc *serverCommand, args [][]byte) string {
	if !sc.spec.ArityFits(len(args)) {
		return arityError(sc.spec.Name)
	}
	if len(sc.spec.Subcommands) == 0 || len(args) < 2 {
		return ""
	}
	sub, ok := sc.spec.Sub(string(args[1]))
	switch {
	case !ok:
		return unknownSubcommand(sc.spec.Name, args[1])
	case !sub.ArityFits(len(args)):
		return arityError(sub.Name)
	}
	return ""
}

// unknownCommand is Redis 7's error text for a command it does not know,
// built as processCommand builds it: arguments are quoted while the list is
// shorter than 128 bytes, each cut to what is left of that budget.
func unknownCommand(args [][]byte) string {
	var list strings.Builder
	for _, a := range args[1:] {
		if list.Len() >= 128 {
			break
		}
		n := 128 - list.Len()
		list.WriteByte('\'')
		list.WriteString(cString(a, n))
		list.WriteString("' ")
	}
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", truncate(args[0]), list.String())
}

// truncate is what Redis's "%.128s" prints of an argument.
func truncate(b []byte) string { return cString(b, 128) }

// cString is what C's "%.*s" prints of b with precision n: at most n bytes,
// and nothing from the first NUL on, since Redis formats arguments as C
// strings.
func cString(b []byte, n int) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

func unknownSubcommand(cmd string, sub []byte) string {
	return fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", truncate(sub), strings.ToUpper(cmd))
}

func (s *Server) cmdPing(conn redcon.Conn, _ *client, args [][]byte) {
	switch len(args) {
	case 1:
		conn.WriteString("PONG")
	case 2:
		conn.WriteBulk(args[1])
	default:
		conn.WriteError(arityError("ping"))
	}
}

func (s *Server) cmdEcho(conn redcon.Conn, _ *client, args [][]byte) { conn.WriteBulk(args[1]) }

func (s *Server) cmdQuit(conn redcon.Conn, _ *client, _ [][]byte) {
	conn.WriteString("OK")
	conn.Close()
}

func (s *Server) cmdSelect(conn redcon.Conn, _ *client, args [][]byte) {
	db, err := strconv.Atoi(string(args[1]))
	switch {
	case err != nil:
		conn.WriteError(errNotInteger)
	case db != 0:
		conn.WriteError("ERR SELECT is not allowed in cluster mode")
	default:
		conn.WriteString("OK")
	}
}

func (s *Server) cmdHello(conn redcon.Conn, c *client, args [][]byte) {
	i := 1
	if len(args) > 1 {
		ver, err := strconv.Atoi(string(args[1]))
		if err != nil {
			conn.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if ver != 2 {
			// Only RESP2 is spoken; clients fall back to it on NOPROTO.
			conn.WriteError("NOPROTO unsupported protocol version")
			return
		}
		i = 2
	}
	for ; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "auth":
			if i+2 >= len(args) {
				conn.WriteError(errSyntax)
				return
			}
			if !s.authenticate(c, args[i+1], args[i+2]) {
				conn.WriteError(errWrongPass)
				return
			}
			i += 2
		case "setname":
			if i+1 >= len(args) {
				conn.WriteError(errSyntax)
				return
			}
			i++
			s.setClient(c, func(c *client) { c.name = string(args[i]) })
		default:
			conn.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", truncate(args[i])))
			return
		}
	}
	role := "replica"
	if s.node.IsLeader() {
		role = "master"
	}
	conn.WriteArray(14)
	conn.WriteBulkString("server")
	conn.WriteBulkString("redis")
	conn.WriteBulkString("version")
	conn.WriteBulkString(redisVersion)
	conn.WriteBulkString("proto")
	conn.WriteInt(2)
	conn.WriteBulkString("id")
	conn.WriteInt64(clientID(c))
	conn.WriteBulkString("mode")
	conn.WriteBulkString("cluster")
	conn.WriteBulkString("role")
	conn.WriteBulkString(role)
	conn.WriteBulkString("modules")
	conn.WriteArray(0)
}

// redisVersion is the Redis version whose behaviour rkv follows; clients
// pick features by it.
const redisVersion = "7.0.15"

func clientID(c *client) int64 {
	if c == nil {
		return 0
	}
	return c.id
}

func (s *Server) setClient(c *client, f func(c *client)) {
	if c == nil {
		return
	}
	s.clientsMu.Lock()
	f(c)
	s.clientsMu.Unlock()
}

func (s *Server) cmdReadonly(conn redcon.Conn, c *client, _ [][]byte) {
	s.setClient(c, func(c *client) { c.readonly = true })
	conn.WriteString("OK")
}

func (s *Server) cmdReadwrite(conn redcon.Conn, c *client, _ [][]byte) {
	s.setClient(c, func(c *client) { c.readonly = false })
	conn.WriteString("OK")
}

func (s *Server) cmdTime(conn redcon.Conn, _ *client, _ [][]byte) {
	now := time.Now()
	conn.WriteArray(2)
	conn.WriteBulkString(strconv.FormatInt(now.Unix(), 10))
	conn.WriteBulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func (s *Server) cmdClient(conn redcon.Conn, c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "setname":
		if !wantArgs(conn, args, 3, "client|setname") {
			return
		}
		if strings.ContainsAny(string(args[2]), " \n") {
			conn.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		s.setClient(c, func(c *client) { c.name = string(args[2]) })
		conn.WriteString("OK")
	case "getname":
		s.clientsMu.Lock()
		name := ""
		if c != nil {
			name = c.name
		}
		s.clientsMu.Unlock()
		if name == "" {
			conn.WriteNull()
		} else {
			conn.WriteBulkString(name)
		}
	case "setinfo":
		if !wantArgs(conn, args, 4, "client|setinfo") {
			return
		}
		val := string(args[3])
		switch strings.ToLower(string(args[2])) {
		case "lib-name":
			s.setClient(c, func(c *client) { c.libName = val })
		case "lib-ver":
			s.setClient(c, func(c *client) { c.libVer = val })
		default:
			conn.WriteError(fmt.Sprintf("ERR Unrecognized option '%s'", args[2]))
			return
		}
		conn.WriteString("OK")
	case "id":
		conn.WriteInt64(clientID(c))
	case "list":
		var b strings.Builder
		for _, cl := range s.sortedClients() {
			b.WriteString(s.clientLine(cl))
			b.WriteByte('\n')
		}
		conn.WriteBulkString(b.String())
	case "info":
		for _, cl := range s.clientList() {
			if c != nil && cl.id == c.id {
				conn.WriteBulkString(s.clientLine(cl) + "\n")
				return
			}
		}
		conn.WriteNull()
	default:
		conn.WriteError(unknownSubcommand("client", args[1]))
	}
}

func (s *Server) sortedClients() []*client {
	cl := s.clientList()
	slices.SortFunc(cl, func(a, b *client) int { return int(a.id - b.id) })
	return cl
}

func (s *Server) clientLine(c *client) string {
	flags := "N"
	if c.readonly {
		flags = "r"
	}
	now := time.Now()
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=%d flags=%s db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=2 lib-name=%s lib-ver=%s",
		c.id, c.addr, c.laddr, c.name, int(now.Sub(c.created).Seconds()), int(now.Sub(c.lastSeen).Seconds()),
		flags, orDefault(c.lastCmd, "NULL"), c.libName, c.libVer)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *Server) cmdConfig(conn redcon.Conn, _ *client, args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "get":
		if len(args) < 3 {
			conn.WriteError(arityError("config|get"))
			return
		}
		settings := s.settings()
		// Pairs of the name to reply and the setting; as Redis, a name
		// without glob characters is answered as the client wrote it.
		var out [][2]string
		seen := map[string]bool{}
		for _, pat := range args[2:] {
			lower := strings.ToLower(string(pat))
			if !strings.ContainsAny(lower, "[*?") {
				if _, ok := settings[lower]; ok && !seen[lower] {
					seen[lower] = true
					out = append(out, [2]string{string(pat), lower})
				}
				continue
			}
			for _, k := range sortedKeys(settings) {
				if store.GlobMatch(lower, k) && !seen[k] {
					seen[k] = true
					out = append(out, [2]string{k, k})
				}
			}
		}
		conn.WriteArray(2 * len(out))
		for _, p := range out {
			conn.WriteBulkString(p[0])
			conn.WriteBulkString(settings[p[1]])
		}
	case "set":
		if len(args) < 4 || len(args)%2 != 0 {
			conn.WriteError(arityError("config|set"))
			return
		}
		if len(args) == 4 && strings.EqualFold(string(args[2]), "requirepass") {
			s.setRequirepass(conn, string(args[3]))
			return
		}
		settings := s.settings()
		for i := 2; i < len(args); i += 2 {
			k := strings.ToLower(string(args[i]))
			if _, ok := settings[k]; !ok {
				conn.WriteError(fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", args[i]))
				return
			}
			if set, ok := runtimeSettings[k]; ok {
				if msg := set(s, string(args[i+1])); msg != "" {
					conn.WriteError(fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", args[i], msg))
					return
				}
				continue
			}
			if settings[k] != string(args[i+1]) {
				// rkv's settings come from its command line; changing them
				// at run time is not supported.
				conn.WriteError(fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - rkv settings are set on the command line", args[i]))
				return
			}
		}
		conn.WriteString("OK")
	case "resetstat":
		conn.WriteString("OK")
	case "rewrite":
		// There is no configuration file to write yet: the flags are the
		// configuration.
		conn.WriteError("ERR The server is running without a config file")
	default:
		conn.WriteError(unknownSubcommand("config", args[1]))
	}
}

// runtimeSettings are the settings CONFIG SET may change on this node:
// each applies a value or returns Redis's complaint about it.
var runtimeSettings = map[string]func(s *Server, v string) string{
	"maxmemory":         (*Server).setMaxmemory,
	"maxmemory-policy":  (*Server).setPolicy,
	"maxmemory-samples": (*Server).setSamples,
	"timeout": limitSetter(func(l *Limits, v string) string {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			return "argument couldn't be parsed into an integer"
		case n < 0 || n > 1<<31-1:
			return "argument must be between 0 and 2147483647 inclusive"
		}
		l.IdleTimeout = time.Duration(n) * time.Second
		return ""
	}),
	"proto-max-bulk-len":        sizeLimitSetter(func(l *Limits) *int64 { return &l.ProtoMaxBulkLen }),
	"client-query-buffer-limit": sizeLimitSetter(func(l *Limits) *int64 { return &l.QueryBufferMax }),
	"client-output-buffer-limit": limitSetter(func(l *Limits, v string) string {
		return parseOutputLimit(v, l)
	}),
}

// sizeLimitSetter makes a CONFIG SET of a connection limit in bytes, at
// least 1mb as Redis requires.
func sizeLimitSetter(field func(l *Limits) *int64) func(s *Server, v string) string {
	return limitSetter(func(l *Limits, v string) string {
		n, ok := ParseMemory(v)
		switch {
		case !ok:
			return "argument must be a memory value"
		case n < 1<<20:
			return "argument must be between 1048576 and 9223372036854775807 inclusive"
		}
		*field(l) = n
		return ""
	})
}

// limitSetter makes a CONFIG SET of one connection limit: change applies
// the value to a copy, which every connection then reads.
func limitSetter(change func(l *Limits, v string) string) func(s *Server, v string) string {
	return func(s *Server, v string) string {
		l := *s.conns.Load()
		if msg := change(&l, v); msg != "" {
			return msg
		}
		s.conns.Store(&l)
		return ""
	}
}

func (s *Server) settings() map[string]string {
	_, port := splitHostPort(s.cfg.Addr)
	lim := s.conns.Load()
	return map[string]string{
		"save":            "",
		"appendonly":      "yes",
		"appendfsync":     "always",
		"databases":       "1",
		"cluster-enabled": "yes",
		"port":            strconv.Itoa(port),
		"maxclients":      strconv.Itoa(s.cfg.MaxClients),
		"dir":             s.cfg.Dir,
		// The password is kept only as a hash (see acl.go).
		"requirepass":                "",
		"aclfile":                    s.cfg.ACLFile,
		"protected-mode":             yesNo(s.cfg.ProtectedMode),
		"timeout":                    strconv.FormatInt(int64(lim.IdleTimeout/time.Second), 10),
		"client-query-buffer-limit":  strconv.FormatInt(lim.QueryBufferMax, 10),
		"client-output-buffer-limit": formatOutputLimit(*lim),
		"maxmemory":                  strconv.FormatInt(s.limits.maxmemory.Load(), 10),
		"maxmemory-policy":           s.limits.policyNow().String(),
		"maxmemory-samples":          strconv.FormatInt(s.limits.samples.Load(), 10),
		"proto-max-bulk-len":         strconv.FormatInt(lim.ProtoMaxBulkLen, 10),
		"rkv-read-mode":              s.cfg.ReadMode,
		"rkv-election-timeout":       s.cfg.ElectionTimeout.String(),
		"rkv-heartbeat-interval":     s.cfg.HeartbeatInterval.String(),
		"rkv-snapshot-entries":       strconv.FormatUint(s.cfg.SnapshotEntries, 10),
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) cmdRole(conn redcon.Conn, _ *client, _ [][]byte) {
	st := s.node.Status()
	if st.State == consensus.StateLeader {
		others := s.otherMembers(st)
		conn.WriteArray(3)
		conn.WriteBulkString("master")
		conn.WriteInt64(int64(st.Commit))
		conn.WriteArray(len(others))
		for _, m := range others {
			host, port := splitHostPort(m.ClientAddr)
			conn.WriteArray(3)
			conn.WriteBulkString(host)
			conn.WriteBulkString(strconv.Itoa(port))
			conn.WriteBulkString(strconv.FormatUint(st.Progress[m.ID].Match, 10))
		}
		return
	}
	host, port := "?", 0
	state := "connect"
	if m, ok := s.members.Get(st.Lead); ok && st.Lead != consensus.None {
		host, port = splitHostPort(m.ClientAddr)
		state = "connected"
	}
	conn.WriteArray(5)
	conn.WriteBulkString("slave")
	conn.WriteBulkString(host)
	conn.WriteInt(port)
	conn.WriteBulkString(state)
	conn.WriteInt64(int64(st.Applied))
}

// otherMembers returns the members other than this node, voters first,
// sorted by id.
func (s *Server) otherMembers(st consensus.Status) []Member {
	var out []Member
	for _, id := range append(append([]consensus.NodeID(nil), st.Conf.Voters...), st.Conf.Learners...) {
		if id == s.cfg.ID {
			continue
		}
		m, ok := s.members.Get(id)
		if !ok {
			m = Member{ID: id}
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) cmdInfo(conn redcon.Conn, _ *client, args [][]byte) {
	sections := map[string]bool{}
	for _, a := range args[1:] {
		sections[strings.ToLower(string(a))] = true
	}
	all := len(sections) == 0 || sections["all"] || sections["everything"] || sections["default"]
	want := func(name string) bool { return all || sections[name] }
	st := s.node.Status()
	var b strings.Builder
	section := func(name string, lines ...string) {
		if !want(strings.ToLower(name)) {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
	}
	_, port := splitHostPort(s.cfg.Addr)
	uptime := int64(time.Since(s.started).Seconds())
	section("Server",
		"redis_version:"+redisVersion,
		"rkv_version:0.1.0",
		"redis_mode:cluster",
		"os:"+runtime.GOOS,
		"arch_bits:64",
		"go_version:"+runtime.Version(),
		fmt.Sprintf("process_id:%d", os.Getpid()),
		fmt.Sprintf("run_id:%s", nodeName(s.cfg.ID)),
		fmt.Sprintf("tcp_port:%d", port),
		fmt.Sprintf("uptime_in_seconds:%d", uptime),
		fmt.Sprintf("uptime_in_days:%d", uptime/86400),
	)
	s.clientsMu.Lock()
	nclients := len(s.clients)
	s.clientsMu.Unlock()
	section("Clients",
		fmt.Sprintf("connected_clients:%d", nclients),
		fmt.Sprintf("maxclients:%d", s.cfg.MaxClients),
		"blocked_clients:0",
	)
	if want("memory") {
		section("Memory", s.memoryInfo()...)
	}
	section("Persistence",
		"loading:0",
		"aof_enabled:1",
		"rdb_changes_since_last_save:0",
		fmt.Sprintf("raft_log_dir:%s", s.cfg.Dir),
	)
	mst := s.store.Stats(time.Now().UnixMilli())
	section("Stats",
		fmt.Sprintf("total_connections_received:%d", s.totalConns.Load()),
		fmt.Sprintf("total_commands_processed:%d", s.totalCmds.Load()),
		fmt.Sprintf("rejected_connections:%d", s.rejected.Load()),
		fmt.Sprintf("expired_keys:%d", mst.Expired),
		fmt.Sprintf("expired_stale_perc:%.2f", mst.StalePercent),
		fmt.Sprintf("evicted_keys:%d", mst.Evicted),
	)
	role := "slave"
	if st.State == consensus.StateLeader {
		role = "master"
	}
	others := s.otherMembers(st)
	repl := []string{"role:" + role}
	if role == "master" {
		repl = append(repl, fmt.Sprintf("connected_slaves:%d", len(others)))
		for i, m := range others {
			host, p := splitHostPort(m.ClientAddr)
			repl = append(repl, fmt.Sprintf("slave%d:ip=%s,port=%d,state=online,offset=%d,lag=0", i, host, p, st.Progress[m.ID].Match))
		}
	} else if lm, ok := s.members.Get(st.Lead); ok {
		host, p := splitHostPort(lm.ClientAddr)
		repl = append(repl, "master_host:"+host, fmt.Sprintf("master_port:%d", p), "master_link_status:up")
	} else {
		repl = append(repl, "master_link_status:down")
	}
	repl = append(repl, fmt.Sprintf("master_repl_offset:%d", st.Applied))
	section("Replication", repl...)
	section("CPU", fmt.Sprintf("used_cpu_sys:%.6f", cpuSeconds()), "used_cpu_user:0.000000")
	// Cluster clients (redis-py's RedisCluster) refuse a node whose INFO
	// does not say cluster_enabled:1.
	section("Cluster", "cluster_enabled:1")
	section("Keyspace", fmt.Sprintf("db0:keys=%d,expires=%d,avg_ttl=0", s.store.Len(), mst.KeysWithTTL))
	leader := ""
	if m, ok := s.members.Get(st.Lead); ok {
		leader = m.ClientAddr
	}
	counts := s.node.Stats()
	section("Raft",
		fmt.Sprintf("raft_node_id:%d", st.ID),
		"raft_role:"+st.State.String(),
		fmt.Sprintf("raft_term:%d", st.Term),
		fmt.Sprintf("raft_leader_id:%d", st.Lead),
		"raft_leader_addr:"+leader,
		fmt.Sprintf("raft_commit_index:%d", st.Commit),
		fmt.Sprintf("raft_applied_index:%d", st.Applied),
		"raft_voters:"+joinIDs(st.Conf.Voters),
		"raft_learners:"+joinIDs(st.Conf.Learners),
		"raft_read_mode:"+s.cfg.ReadMode,
		fmt.Sprintf("raft_log_writes:%d", counts.LogWrites),
		fmt.Sprintf("raft_log_entries_written:%d", counts.LogEntries),
		fmt.Sprintf("raft_read_rounds:%d", counts.ReadRounds),
		fmt.Sprintf("raft_reads_confirmed:%d", counts.Reads),
	)
	conn.WriteBulkString(b.String())
}

func joinIDs(ids []consensus.NodeID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(parts, ",")
}

func (s *Server) cmdCluster(conn redcon.Conn, c *client, args [][]byte) {
	st := s.node.Status()
	switch strings.ToLower(string(args[1])) {
	case "slots":
		s.clusterSlots(conn, st)
	case "shards":
		s.clusterShards(conn, st)
	case "nodes":
		conn.WriteBulkString(s.clusterNodes(st))
	case "info":
		s.clusterInfo(conn, st)
	case "myid":
		conn.WriteBulkString(nodeName(s.cfg.ID))
	case "keyslot":
		if !wantArgs(conn, args, 3, "cluster|keyslot") {
			return
		}
		conn.WriteInt(store.KeySlot(args[2]))
	case "countkeysinslot":
		if !wantArgs(conn, args, 3, "cluster|countkeysinslot") {
			return
		}
		slot, ok := slotArg(conn, args[2])
		if !ok {
			return
		}
		conn.WriteInt(s.store.CountKeysInSlot(slot))
	case "getkeysinslot":
		if !wantArgs(conn, args, 4, "cluster|getkeysinslot") {
			return
		}
		slot, ok := slotArg(conn, args[2])
		if !ok {
			return
		}
		count, err := strconv.Atoi(string(args[3]))
		if err != nil || count < 0 {
			conn.WriteError("ERR Invalid number of keys")
			return
		}
		keys := s.store.KeysInSlot(slot, count)
		conn.WriteArray(len(keys))
		for _, k := range keys {
			conn.WriteBulk(k)
		}
	case "failover":
		s.clusterFailover(conn, st)
	case "rkv-join":
		s.clusterJoin(conn, args)
	case "forget":
		s.clusterForget(conn, args)
	default:
		conn.WriteError(unknownSubcommand("cluster", args[1]))
	}
}

// clusterSlots reports the leader as the master of all slots, followers as
// its replicas.
func (s *Server) clusterSlots(conn redcon.Conn, st consensus.Status) {
	lm, ok := s.members.Get(st.Lead)
	if st.Lead == consensus.None || !ok {
		conn.WriteArray(0)
		return
	}
	replicas := s.replicaMembers(st)
	conn.WriteArray(1)
	conn.WriteArray(3 + len(replicas))
	conn.WriteInt(0)
	conn.WriteInt(16383)
	for _, m := range append([]Member{lm}, replicas...) {
		host, port := splitHostPort(m.ClientAddr)
		conn.WriteArray(3)
		conn.WriteBulkString(host)
		conn.WriteInt(port)
		conn.WriteBulkString(nodeName(m.ID))
	}
}

// replicaMembers returns every member but the leader, sorted by id.
func (s *Server) replicaMembers(st consensus.Status) []Member {
	var out []Member
	ids := append(append([]consensus.NodeID(nil), st.Conf.Voters...), st.Conf.Learners...)
	slices.Sort(ids)
	for _, id := range ids {
		if id == st.Lead {
			continue
		}
		if m, ok := s.members.Get(id); ok {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) clusterShards(conn redcon.Conn, st consensus.Status) {
	lm, ok := s.members.Get(st.Lead)
	if st.Lead == consensus.None || !ok {
		conn.WriteArray(0)
		return
	}
	nodes := append([]Member{lm}, s.replicaMembers(st)...)
	conn.WriteArray(1)
	conn.WriteArray(4)
	conn.WriteBulkString("slots")
	conn.WriteArray(2)
	conn.WriteInt(0)
	conn.WriteInt(16383)
	conn.WriteBulkString("nodes")
	conn.WriteArray(len(nodes))
	for i, m := range nodes {
		host, port := splitHostPort(m.ClientAddr)
		role := "replica"
		if i == 0 {
			role = "master"
		}
		conn.WriteArray(14)
		conn.WriteBulkString("id")
		conn.WriteBulkString(nodeName(m.ID))
		conn.WriteBulkString("port")
		conn.WriteInt(port)
		conn.WriteBulkString("ip")
		conn.WriteBulkString(host)
		conn.WriteBulkString("endpoint")
		conn.WriteBulkString(host)
		conn.WriteBulkString("role")
		conn.WriteBulkString(role)
		conn.WriteBulkString("replication-offset")
		conn.WriteInt64(int64(st.Applied))
		conn.WriteBulkString("health")
		conn.WriteBulkString("online")
	}
}

func (s *Server) clusterNodes(st consensus.Status) string {
	var b strings.Builder
	ids := append(append([]consensus.NodeID(nil), st.Conf.Voters...), st.Conf.Learners...)
	slices.Sort(ids)
	for _, id := range ids {
		m, ok := s.members.Get(id)
		if !ok {
			continue
		}
		host, port := splitHostPort(m.ClientAddr)
		_, bus := splitHostPort(m.BusAddr)
		var flags []string
		if id == s.cfg.ID {
			flags = append(flags, "myself")
		}
		master := "-"
		slotsCol := ""
		if id == st.Lead {
			flags = append(flags, "master")
			slotsCol = " 0-16383"
		} else {
			flags = append(flags, "slave")
			if st.Lead != consensus.None {
				master = nodeName(st.Lead)
			}
		}
		fmt.Fprintf(&b, "%s %s:%d@%d %s %s 0 0 %d connected%s\n",
			nodeName(id), host, port, bus, strings.Join(flags, ","), master, st.Term, slotsCol)
	}
	return b.String()
}

func (s *Server) clusterInfo(conn redcon.Conn, st consensus.Status) {
	state, assigned := "fail", 0
	if st.Lead != consensus.None {
		state, assigned = "ok", 16384
	}
	known := len(st.Conf.Voters) + len(st.Conf.Learners)
	lines := []string{
		"cluster_state:" + state,
		fmt.Sprintf("cluster_slots_assigned:%d", assigned),
		fmt.Sprintf("cluster_slots_ok:%d", assigned),
		"cluster_slots_pfail:0",
		"cluster_slots_fail:0",
		fmt.Sprintf("cluster_known_nodes:%d", known),
		"cluster_size:1",
		fmt.Sprintf("cluster_current_epoch:%d", st.Term),
		fmt.Sprintf("cluster_my_epoch:%d", st.Term),
	}
	conn.WriteBulkString(strings.Join(lines, "\r\n") + "\r\n")
}

func (s *Server) clusterFailover(conn redcon.Conn, st consensus.Status) {
	if st.State == consensus.StateLeader {
		conn.WriteError("ERR You should send CLUSTER FAILOVER to a replica")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	if err := s.node.TransferLeadership(ctx, s.cfg.ID); err != nil {
		conn.WriteError("ERR failover failed: " + err.Error())
		return
	}
	conn.WriteString("OK")
}

// clusterJoin adds a node as a learner: CLUSTER RKV-JOIN <id> <client-addr>
// <bus-addr>. The reply is the cluster id, then every member as "id client
// bus", so the new node can reach them before it has the log.
func (s *Server) clusterJoin(conn redcon.Conn, args [][]byte) {
	if !wantArgs(conn, args, 5, "cluster|rkv-join") {
		return
	}
	id, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil || id == 0 {
		conn.WriteError("ERR Invalid node id")
		return
	}
	if !s.node.IsLeader() {
		s.redirectKeyless(conn)
		return
	}
	mem := Member{ID: consensus.NodeID(id), ClientAddr: string(args[3]), BusAddr: string(args[4])}
	st := s.node.Status()
	if slices.Contains(st.Conf.Voters, mem.ID) || slices.Contains(st.Conf.Learners, mem.ID) {
		if old, ok := s.members.Get(mem.ID); !ok || old != mem {
			conn.WriteError("ERR node id is already a member with other addresses")
			return
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		err := s.node.ProposeConfChange(ctx, consensus.ConfChange{Type: consensus.ConfAddLearner,
			Node: mem.ID, Context: memberContext(mem)})
		if err != nil {
			s.writeResult(conn, nil, nil, consensus.Result{Err: err})
			return
		}
	}
	all := s.members.All()
	conn.WriteArray(1 + len(all))
	conn.WriteBulkString(strconv.FormatUint(s.cfg.ClusterID, 10))
	for _, m := range all {
		conn.WriteBulkString(fmt.Sprintf("%d %s %s", m.ID, m.ClientAddr, m.BusAddr))
	}
}

// clusterForget removes a member: CLUSTER FORGET <id> (a number, or the
// 40-character name CLUSTER NODES shows).
func (s *Server) clusterForget(conn redcon.Conn, args [][]byte) {
	if !wantArgs(conn, args, 3, "cluster|forget") {
		return
	}
	id, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil || len(args[2]) == 40 {
		id, err = strconv.ParseUint(string(args[2]), 16, 64)
	}
	if err != nil || id == 0 {
		conn.WriteError(fmt.Sprintf("ERR Unknown node %s", args[2]))
		return
	}
	if !s.node.IsLeader() {
		s.redirectKeyless(conn)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	err = s.node.ProposeConfChange(ctx, consensus.ConfChange{Type: consensus.ConfRemove, Node: consensus.NodeID(id)})
	if err != nil {
		s.writeResult(conn, nil, nil, consensus.Result{Err: err})
		return
	}
	conn.WriteString("OK")
}

// wantArgs answers a subcommand's wrong arity itself.
func wantArgs(conn redcon.Conn, args [][]byte, n int, name string) bool {
	if len(args) != n {
		conn.WriteError(arityError(name))
		return false
	}
	return true
}

// slotArg parses a hash slot argument, answering a bad one itself.
func slotArg(conn redcon.Conn, arg []byte) (int, bool) {
	slot, err := strconv.Atoi(string(arg))
	if err != nil || slot < 0 || slot >= store.NumSlots {
		conn.WriteError("ERR Invalid slot")
		return 0, false
	}
	return slot, true
}

func (s *Server) redirectKeyless(conn redcon.Conn) {
	lead := s.node.Leader()
	m, ok := s.members.Get(lead)
	if lead == consensus.None || !ok {
		conn.WriteError(errNoLeader)
		return
	}
	conn.WriteError(fmt.Sprintf("MOVED 0 %s", m.ClientAddr))
}

func cpuSeconds() float64 {
	return float64(time.Since(processStart).Seconds())
}

var processStart = time.Now()
