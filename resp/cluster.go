package resp

// ROLE and CLUSTER: the Raft group seen as a Redis Cluster of one shard,
// and the membership changes an operator makes.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

func (s *Server) cmdRole(conn redcon.Conn, _ *client, _ [][]byte) {
	st := s.home.Node().Status()
	if st.State == consensus.StateLeader {
		others := s.connectedFollowers(st)
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
	if m, ok := s.home.Members().Get(st.Lead); ok && st.Lead != consensus.None {
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

// connectedFollowers returns the members other than this node that answer
// its heartbeats (see reachable), voters first: the replicas a Redis
// master would list as connected to it.
func (s *Server) connectedFollowers(st consensus.Status) []replica.Member {
	var out []replica.Member
	for _, id := range append(append([]consensus.NodeID(nil), st.Conf.Voters...), st.Conf.Learners...) {
		if id == s.cfg.ID || !s.reachable(st, id) {
			continue
		}
		m, ok := s.home.Members().Get(id)
		if !ok {
			m = replica.Member{ID: id}
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) cmdCluster(conn redcon.Conn, c *client, args [][]byte) {
	st := s.home.Node().Status()
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
	case "help":
		writeHelp(conn, "CLUSTER", clusterHelp)
	case "keyslot":
		conn.WriteInt(store.KeySlot(args[2]))
	case "countkeysinslot":
		slot, ok := slotArg(conn, args[2])
		if !ok {
			return
		}
		conn.WriteInt(s.route.forSlot(slot).Store().CountKeysInSlot(slot))
	case "getkeysinslot":
		slot, ok := slotArg(conn, args[2])
		if !ok {
			return
		}
		count, err := strconv.Atoi(string(args[3]))
		if err != nil || count < 0 {
			conn.WriteError("ERR Invalid number of keys")
			return
		}
		keys := s.route.forSlot(slot).Store().KeysInSlot(slot, count)
		conn.WriteArray(len(keys))
		for _, k := range keys {
			conn.WriteBulk(k)
		}
	case "failover":
		s.clusterFailover(conn, st)
	case "rkv-join":
		s.clusterJoin(conn, args)
	case "rkv-backup":
		s.clusterBackup(conn)
	case "rkv-promote":
		s.clusterPromote(conn, args)
	case "forget":
		s.clusterForget(conn, args)
	default:
		conn.WriteError(unknownSubcommand("cluster", args[1]))
	}
}

// clusterSlots reports the leader as the master of all slots, followers as
// its replicas.
func (s *Server) clusterSlots(conn redcon.Conn, st consensus.Status) {
	lm, ok := s.home.Members().Get(st.Lead)
	if st.Lead == consensus.None || !ok {
		conn.WriteArray(0)
		return
	}
	// A replica that does not answer is left out, as Redis leaves out a
	// failed one, so that cluster clients do not send reads to it.
	replicas := s.replicaMembers(st, true)
	conn.WriteArray(1)
	conn.WriteArray(3 + len(replicas))
	conn.WriteInt(0)
	conn.WriteInt(16383)
	for _, m := range append([]replica.Member{lm}, replicas...) {
		host, port := splitHostPort(m.ClientAddr)
		conn.WriteArray(3)
		conn.WriteBulkString(host)
		conn.WriteInt(port)
		conn.WriteBulkString(nodeName(m.ID))
	}
}

// reachable reports whether member id answers as far as this node can
// tell. The leader judges every member by its heartbeats: one that has
// answered none for an election timeout is down, as Redis Cluster marks a
// node fail after cluster-node-timeout. A follower hears only from the
// leader: it judges the leader, which it reached if it still follows
// one, and counts the others up.
func (s *Server) reachable(st consensus.Status, id consensus.NodeID) bool {
	if st.State != consensus.StateLeader || id == s.cfg.ID {
		return true
	}
	since := st.Progress[id].SinceAck
	return since >= 0 && since < s.electionTicks()
}

// Reachable and AckLag are reachable and ackLag, for metrics.
func (s *Server) Reachable(st consensus.Status, id consensus.NodeID) bool { return s.reachable(st, id) }
func (s *Server) AckLag(st consensus.Status, id consensus.NodeID) time.Duration {
	return s.ackLag(st, id)
}

// electionTicks is the election timeout in Raft ticks (heartbeat
// intervals).
func (s *Server) electionTicks() int64 {
	return max(int64(s.cfg.ElectionTimeout/s.cfg.HeartbeatInterval), 2)
}

// ackLag is how long ago member id last answered the leader's heartbeat.
func (s *Server) ackLag(st consensus.Status, id consensus.NodeID) time.Duration {
	return time.Duration(st.Progress[id].SinceAck) * s.cfg.HeartbeatInterval
}

// replicaMembers returns every member but the leader, sorted by id;
// with liveOnly, only those reachable (see reachable).
func (s *Server) replicaMembers(st consensus.Status, liveOnly bool) []replica.Member {
	var out []replica.Member
	ids := append(append([]consensus.NodeID(nil), st.Conf.Voters...), st.Conf.Learners...)
	slices.Sort(ids)
	for _, id := range ids {
		if id == st.Lead || liveOnly && !s.reachable(st, id) {
			continue
		}
		if m, ok := s.home.Members().Get(id); ok {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) clusterShards(conn redcon.Conn, st consensus.Status) {
	lm, ok := s.home.Members().Get(st.Lead)
	if st.Lead == consensus.None || !ok {
		conn.WriteArray(0)
		return
	}
	nodes := append([]replica.Member{lm}, s.replicaMembers(st, false)...)
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
		if s.reachable(st, m.ID) {
			conn.WriteBulkString("online")
		} else {
			conn.WriteBulkString("offline")
		}
	}
}

func (s *Server) clusterNodes(st consensus.Status) string {
	var b strings.Builder
	ids := append(append([]consensus.NodeID(nil), st.Conf.Voters...), st.Conf.Learners...)
	slices.Sort(ids)
	for _, id := range ids {
		m, ok := s.home.Members().Get(id)
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
		link := "connected"
		if !s.reachable(st, id) {
			link = "disconnected"
		}
		if id == st.Lead {
			flags = append(flags, "master")
			slotsCol = " 0-16383"
		} else {
			flags = append(flags, "slave")
			if st.Lead != consensus.None {
				master = nodeName(st.Lead)
			}
		}
		if slices.Contains(st.Conf.Learners, id) {
			// Redis's flag for a replica that never takes over.
			flags = append(flags, "nofailover")
		}
		if link == "disconnected" {
			flags = append(flags, "fail")
		}
		fmt.Fprintf(&b, "%s %s:%d@%d %s %s 0 0 %d %s%s\n",
			nodeName(id), host, port, bus, strings.Join(flags, ","), master, st.Term, link, slotsCol)
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
	if slices.Contains(st.Conf.Learners, s.cfg.ID) {
		conn.WriteError("ERR a learner cannot take over: make it a voter with CLUSTER RKV-PROMOTE first")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	if err := s.home.Node().TransferLeadership(ctx, s.cfg.ID); err != nil {
		conn.WriteError("ERR failover failed: " + err.Error())
		return
	}
	conn.WriteString("OK")
}

// clusterJoin adds a node as a learner: CLUSTER RKV-JOIN <id> <client-addr>
// <bus-addr> [LEARNER]. With LEARNER it stays one (--learner) until CLUSTER
// RKV-PROMOTE; without, the leader promotes it once it has caught up. The
// reply is the cluster id, then every member as "id client bus", so the
// new node can reach them before it has the log.
func (s *Server) clusterJoin(conn redcon.Conn, args [][]byte) {
	id, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil || id == 0 {
		conn.WriteError("ERR Invalid node id")
		return
	}
	learner := len(args) == 6 && strings.EqualFold(string(args[5]), "learner")
	if len(args) > 5 && !learner {
		conn.WriteError(errSyntax)
		return
	}
	if !s.home.Node().IsLeader() {
		s.redirectKeyless(conn)
		return
	}
	mem := replica.Member{ID: consensus.NodeID(id), ClientAddr: string(args[3]), BusAddr: string(args[4])}
	st := s.home.Node().Status()
	if slices.Contains(st.Conf.Voters, mem.ID) || slices.Contains(st.Conf.Learners, mem.ID) {
		if old, ok := s.home.Members().Get(mem.ID); !ok || old != mem {
			conn.WriteError("ERR node id is already a member with other addresses")
			return
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		err := s.home.Node().ProposeConfChange(ctx, consensus.ConfChange{Type: consensus.ConfAddLearner,
			Node: mem.ID, Context: replica.MemberContext(mem, learner)})
		if err != nil {
			s.writeResult(conn, nil, nil, consensus.Result{Err: err})
			return
		}
	}
	all := s.home.Members().All()
	conn.WriteArray(1 + len(all))
	conn.WriteBulkString(strconv.FormatUint(s.cfg.ClusterID, 10))
	for _, m := range all {
		conn.WriteBulkString(fmt.Sprintf("%d %s %s", m.ID, m.ClientAddr, m.BusAddr))
	}
}

// nodeIDArg reads a node id given as a number or as the 40-character name
// CLUSTER NODES shows; it answers the error itself.
func nodeIDArg(conn redcon.Conn, arg []byte) (consensus.NodeID, bool) {
	id, err := strconv.ParseUint(string(arg), 10, 64)
	if err != nil || len(arg) == 40 {
		id, err = strconv.ParseUint(string(arg), 16, 64)
	}
	if err != nil || id == 0 {
		conn.WriteError(fmt.Sprintf("ERR Unknown node %s", arg))
		return 0, false
	}
	return consensus.NodeID(id), true
}

// clusterPromote makes a learner a voter: CLUSTER RKV-PROMOTE <id>, for a
// node that joined with --learner (others are promoted by the leader once
// they have caught up). It is refused until the learner has caught up.
func (s *Server) clusterPromote(conn redcon.Conn, args [][]byte) {
	id, answered, err := s.changeMember(conn, args[2], consensus.ConfPromote)
	switch {
	case answered:
	case errors.Is(err, consensus.ErrNotLearner):
		conn.WriteError(fmt.Sprintf("ERR node %d is not a learner", id))
	case errors.Is(err, consensus.ErrLearnerNotReady):
		conn.WriteError(fmt.Sprintf("ERR node %d has not caught up with the leader yet; try again", id))
	case err != nil:
		s.writeResult(conn, nil, nil, consensus.Result{Err: err})
	default:
		conn.WriteString("OK")
	}
}

// clusterForget removes a member: CLUSTER FORGET <id> (a number, or the
// 40-character name CLUSTER NODES shows).
func (s *Server) clusterForget(conn redcon.Conn, args [][]byte) {
	_, answered, err := s.changeMember(conn, args[2], consensus.ConfRemove)
	switch {
	case answered:
	case err != nil:
		s.writeResult(conn, nil, nil, consensus.Result{Err: err})
	default:
		conn.WriteString("OK")
	}
}

// changeMember proposes a membership change of kind typ for the node arg
// names, on the leader, and returns the node and the outcome; answered is
// set when it has replied itself instead (a bad id, or MOVED from a
// follower).
func (s *Server) changeMember(conn redcon.Conn, arg []byte, typ consensus.ConfChangeType) (id consensus.NodeID, answered bool, err error) {
	id, ok := nodeIDArg(conn, arg)
	if !ok {
		return id, true, nil
	}
	if !s.home.Node().IsLeader() {
		s.redirectKeyless(conn)
		return id, true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	return id, false, s.home.Node().ProposeConfChange(ctx, consensus.ConfChange{Type: typ, Node: id})
}

// cmdWait is WAIT numreplicas timeout. Under Raft every acknowledged write
// is already held by a majority; WAIT counts the followers whose log holds
// everything committed when it was called, which includes every write this
// connection was answered for, and waits (timeout in ms, 0: for ever) until
// numreplicas of them do. A follower redirects it to the leader.
func (s *Server) cmdWait(conn redcon.Conn, _ *client, args [][]byte) {
	want, err := strconv.ParseInt(string(args[1]), 10, 64)
	if err != nil {
		conn.WriteError(errNotInteger)
		return
	}
	timeout, err := strconv.ParseInt(string(args[2]), 10, 64)
	switch {
	case err != nil:
		conn.WriteError("ERR timeout is not an integer or out of range")
		return
	case timeout < 0:
		conn.WriteError("ERR timeout is negative")
		return
	}
	node := s.home.Node()
	if !node.IsLeader() {
		s.redirect(conn, routeOf("wait"), args, node.Leader())
		return
	}
	target := node.Status().Commit
	held := func() int64 {
		n := int64(0)
		for id, p := range node.Status().Progress {
			if id != s.cfg.ID && !p.Learner && p.Match >= target {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(time.Duration(timeout) * time.Millisecond)
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for n := held(); ; n = held() {
		if n >= want || timeout > 0 && !time.Now().Before(deadline) || !node.IsLeader() {
			conn.WriteInt64(n)
			return
		}
		select {
		case <-tick.C:
		case <-s.closing:
			return
		}
	}
}

var clusterHelp = []string{
	"COUNTKEYSINSLOT <slot>",
	"    Count the keys this node holds in <slot>.",
	"FAILOVER [FORCE|TAKEOVER]",
	"    On a follower: take over leadership of the Raft group.",
	"FORGET <node-id>",
	"    Remove a member from the Raft group.",
	"GETKEYSINSLOT <slot> <count>",
	"    Return up to <count> keys this node holds in <slot>.",
	"INFO",
	"    Report the cluster's state and size.",
	"KEYSLOT <key>",
	"    Return the hash slot of <key>.",
	"MYID",
	"    Return this node's id.",
	"NODES",
	"    Describe the members in Redis Cluster's text format, the leader as master",
	"    and learners (non-voters) flagged nofailover.",
	"RKV-BACKUP",
	"    On the leader: a backup of everything committed, as one bulk string (rkv backup).",
	"RKV-PROMOTE <node-id>",
	"    Make a learner (a node started with --learner) a voter once it has caught up.",
	"SHARDS",
	"    Describe the shard the leader and its followers serve.",
	"SLOTS",
	"    Map every hash slot to the leader, its followers as replicas.",
}
