package resp

// INFO and TIME: what this node reports about itself.

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/internal/buildinfo"
)

func (s *Server) cmdInfo(conn redcon.Conn, _ *client, args [][]byte) {
	sections := map[string]bool{}
	for _, a := range args[1:] {
		sections[strings.ToLower(string(a))] = true
	}
	// As Redis 7.0: the default sections unless others are named;
	// "all" adds commandstats (and "everything" would add modules).
	all := sections["all"] || sections["everything"]
	defaults := len(sections) == 0 || sections["default"]
	want := func(name string) bool {
		return all || sections[name] || defaults && name != "commandstats" && name != "latencystats"
	}
	st := s.home.Node().Status()
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
		"redis_version:"+RedisVersion,
		"rkv_version:"+buildinfo.Version(),
		"redis_git_sha1:"+buildinfo.Revision(),
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
	section("Clients",
		fmt.Sprintf("connected_clients:%d", s.ConnectedClients()),
		fmt.Sprintf("maxclients:%d", s.maxClients.Load()),
		fmt.Sprintf("blocked_clients:%d", s.blocked.count()),
		fmt.Sprintf("tracking_clients:%d", s.tracking.tracking.Load()),
	)
	if want("memory") {
		section("Memory", s.memoryInfo()...)
	}
	section("Persistence",
		"loading:0",
		"aof_enabled:1",
		fmt.Sprintf("rdb_changes_since_last_save:%d", s.home.Store().Dirty()-s.saves.dirty.Load()),
		fmt.Sprintf("rdb_bgsave_in_progress:%d", s.bgsaveRunning()),
		fmt.Sprintf("rdb_last_save_time:%d", s.lastSave()),
		"rdb_last_bgsave_status:"+s.lastSaveStatus(),
		fmt.Sprintf("rdb_last_bgsave_time_sec:%d", s.lastSaveTook()),
		fmt.Sprintf("rdb_saves:%d", s.saves.count.Load()),
		"aof_last_bgrewrite_status:"+okOrErr(s.home.Node().SnapshotError()),
		"aof_last_write_status:"+okOrErr(s.home.Node().StorageError()),
		fmt.Sprintf("raft_log_dir:%s", s.cfg.Dir),
		"log_write_status:"+okOrErr(s.home.Node().StorageError()),
		"log_write_error:"+storageCause(s.home.Node().StorageError()),
		fmt.Sprintf("log_write_failures:%d", s.home.Node().Stats().LogWriteFailures),
		"log_snapshot_error:"+storageCause(s.home.Node().SnapshotError()),
	)
	mst := s.home.Store().Stats(time.Now().UnixMilli())
	trackedKeys, trackedItems, trackedPrefixes := s.tracking.stats()
	section("Stats",
		fmt.Sprintf("total_connections_received:%d", s.totalConns.Load()),
		fmt.Sprintf("total_commands_processed:%d", s.totalCmds.Load()),
		fmt.Sprintf("rejected_connections:%d", s.rejected.Load()),
		fmt.Sprintf("expired_keys:%d", mst.Expired),
		fmt.Sprintf("expired_stale_perc:%.2f", mst.StalePercent),
		fmt.Sprintf("evicted_keys:%d", mst.Evicted),
		fmt.Sprintf("migrate_cached_sockets:%d", s.migrate.size()),
		fmt.Sprintf("keyspace_hits:%d", mst.Hits),
		fmt.Sprintf("keyspace_misses:%d", mst.Misses),
		fmt.Sprintf("total_error_replies:%d", s.stats.totalErrors()),
		fmt.Sprintf("tracking_total_keys:%d", trackedKeys),
		fmt.Sprintf("tracking_total_items:%d", trackedItems),
		fmt.Sprintf("tracking_total_prefixes:%d", trackedPrefixes),
	)
	role := "slave"
	if st.State == consensus.StateLeader {
		role = "master"
	}
	repl := []string{"role:" + role}
	if role == "master" {
		// As a Redis master lists only the replicas connected to it, the
		// leader lists the followers that answer its heartbeats, lag
		// being the seconds since the last answer.
		var lines []string
		for _, m := range s.connectedFollowers(st) {
			host, p := splitHostPort(m.ClientAddr)
			lines = append(lines, fmt.Sprintf("slave%d:ip=%s,port=%d,state=online,offset=%d,lag=%d",
				len(lines), host, p, st.Progress[m.ID].Match, int64(s.ackLag(st, m.ID)/time.Second)))
		}
		repl = append(repl, fmt.Sprintf("connected_slaves:%d", len(lines)))
		repl = append(repl, lines...)
	} else if lm, ok := s.home.Members().Get(st.Lead); ok {
		host, p := splitHostPort(lm.ClientAddr)
		repl = append(repl, "master_host:"+host, fmt.Sprintf("master_port:%d", p), "master_link_status:up")
	} else {
		repl = append(repl, "master_link_status:down")
	}
	repl = append(repl, fmt.Sprintf("master_repl_offset:%d", st.Applied))
	section("Replication", repl...)
	user, sys := cpuTimes()
	section("CPU", fmt.Sprintf("used_cpu_sys:%.6f", sys), fmt.Sprintf("used_cpu_user:%.6f", user),
		"used_cpu_sys_children:0.000000", "used_cpu_user_children:0.000000",
		fmt.Sprintf("go_goroutine_runs:%d", goroutineRuns()))
	if want("commandstats") {
		section("Commandstats", s.stats.commandLines()...)
	}
	if want("errorstats") {
		section("Errorstats", s.stats.errorLines()...)
	}
	// Cluster clients (redis-py's RedisCluster) refuse a node whose INFO
	// does not say cluster_enabled:1.
	section("Cluster", "cluster_enabled:1")
	var dbLines []string
	for _, db := range s.home.Store().Keyspace() {
		dbLines = append(dbLines, fmt.Sprintf("db%d:keys=%d,expires=%d,avg_ttl=0", db.DB, db.Keys, db.Expires))
	}
	section("Keyspace", dbLines...)
	leader := ""
	if m, ok := s.home.Members().Get(st.Lead); ok {
		leader = m.ClientAddr
	}
	counts := s.home.Node().Stats()
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
		fmt.Sprintf("raft_log_entries_per_write:%.2f", perWrite(counts.LogEntries, counts.LogWrites)),
		fmt.Sprintf("raft_log_bytes_written:%d", counts.Storage.BytesWritten),
		fmt.Sprintf("raft_log_fsyncs:%d", counts.Storage.Syncs),
		fmt.Sprintf("raft_read_rounds:%d", counts.ReadRounds),
		fmt.Sprintf("raft_reads_confirmed:%d", counts.Reads),
	)
	conn.WriteBulkString(b.String())
}

func perWrite(n, writes uint64) float64 {
	if writes == 0 {
		return 0
	}
	return float64(n) / float64(writes)
}

// ConnectedClients is the number of client connections open.
func (s *Server) ConnectedClients() int {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	return len(s.clients)
}

func joinIDs(ids []consensus.NodeID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(parts, ",")
}

func (s *Server) cmdTime(conn redcon.Conn, _ *client, _ [][]byte) {
	now := time.Now()
	conn.WriteArray(2)
	conn.WriteBulkString(strconv.FormatInt(now.Unix(), 10))
	conn.WriteBulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}
