package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// FuzzServer feeds arbitrary bytes, as one client connection, to a live
// single-node rkv: the RESP parser, the guard, the dispatcher, the
// commands and the log behind them. Whatever arrives, the node answers
// with well-formed RESP whose errors are Redis-style, never panics (the
// handler's recover would answer "internal error"), ends the connection
// when the client does, and goes on serving others.
func FuzzServer(f *testing.F) {
	for _, in := range []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\nset \"a b\" 'c\\x41'\r\nget \"a b\"\r\nECHO x\r\n",
		"MULTI\r\nINCR n\r\nLPUSH n x\r\nEXEC\r\nWATCH n\r\nDISCARD\r\nEXEC\r\n",
		"HSET h f v\r\nHGETALL h\r\nZADD z 1 a\r\nZRANGE z 0 -1 WITHSCORES\r\nSADD s 1 2\r\nSPOP s\r\n",
		"XADD x * f v\r\nXRANGE x - +\r\nXREAD COUNT 1 STREAMS x 0\r\nRPUSH l a b\r\nLRANGE l 0 -1\r\n",
		"SET t v EX 100\r\nTTL t\r\nEXPIRE t -1\r\nKEYS *\r\nSCAN 0 MATCH * COUNT 10\r\nDBSIZE\r\n",
		"CLUSTER SLOTS\r\nCLUSTER NODES\r\nCLUSTER KEYSLOT {a}b\r\nROLE\r\nINFO\r\nCOMMAND INFO get\r\n",
		"CONFIG GET *\r\nCONFIG SET maxmemory 1mb\r\nCLIENT SETNAME n\r\nCLIENT LIST\r\nHELLO 2\r\nACL WHOAMI\r\n",
		"READONLY\r\nGET k\r\nREADWRITE\r\nDEBUG DIGEST\r\nAUTH x\r\nSELECT 1\r\nQUIT\r\nPING\r\n",
		"*2147483648\r\n",
		"*1\r\n$600000000\r\n",
		"*2\r\n$-5\r\n",
		"*1\r\n*1\r\n$1\r\na\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
		"*1\r\n$4\r\nPING",
		"\"unbalanced\r\n",
	} {
		f.Add([]byte(in))
	}
	node := startCluster(f, 1)[0]
	f.Fuzz(func(t *testing.T, in []byte) {
		if changesTheNode.Match(in) {
			return // would change what every later input runs against
		}
		out, whole, err := converse(node.addr, in)
		if err != nil {
			t.Fatal(err)
		}
		checkReplies(t, out, whole)
		resetNode(t, node.addr)
	})
}

// changesTheNode matches commands whose effects outlast the connection in
// ways the reset cannot undo: membership, leadership and users.
var changesTheNode = regexp.MustCompile(`(?i)rkv-join|rkv-promote|forget|failover|requirepass|setuser|deluser`)

// converse sends in on a new connection, closes its sending half and
// returns every byte the node sent until it closed the connection; whole
// is false when it reset the connection instead, as a node does that
// closes with input still unread, which may cut the replies short. The
// deadline only catches a node that never ends the conversation.
func converse(addr string, in []byte) (out []byte, whole bool, err error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	// Sent while the replies are read, since neither side's buffers
	// need hold the whole of the other's bytes.
	go func() {
		conn.Write(in)
		conn.(*net.TCPConn).CloseWrite()
	}()
	out, err = io.ReadAll(conn)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return out, false, errors.New("the node did not end the conversation within a minute")
	}
	return out, err == nil, nil
}

// redisError is what every error reply looks like: an upper-case code,
// then a message.
var redisError = regexp.MustCompile(`^[A-Z]+( |$)`)

// checkReplies checks that out is a sequence of RESP values (the last may
// be cut short unless whole), whose errors are Redis-style and none of
// which reports a recovered panic.
func checkReplies(t *testing.T, out []byte, whole bool) {
	t.Helper()
	for len(out) > 0 {
		n, v := redcon.ReadNextRESP(out)
		if n == 0 {
			if whole {
				t.Fatalf("not RESP: %q", out)
			}
			return
		}
		checkValue(t, v)
		out = out[n:]
	}
}

func checkValue(t *testing.T, v redcon.RESP) {
	t.Helper()
	switch v.Type {
	case redcon.Error:
		if !redisError.Match(v.Data) {
			t.Fatalf("error reply %q is not Redis-style", v.Data)
		}
		if bytes.Contains(v.Data, []byte("internal error")) {
			t.Fatalf("a command panicked: %q", v.Data)
		}
	case redcon.Array:
		v.ForEach(func(e redcon.RESP) bool {
			checkValue(t, e)
			return true
		})
	}
}

// resetNode undoes, through a connection of its own, what an input may
// have left behind for the next: the keys and the settings CONFIG SET
// changes. Its answers also show that the node still serves other clients
// and commits writes.
func resetNode(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	w := redcon.NewWriter(conn)
	for _, cmd := range [][]string{
		{"CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction", "maxmemory-samples", "5",
			"timeout", "0", "proto-max-bulk-len", "512mb", "client-query-buffer-limit", "1gb",
			"client-output-buffer-limit", "normal 0 0 0"},
		{"FLUSHALL"},
	} {
		w.WriteArray(len(cmd))
		for _, a := range cmd {
			w.WriteBulkString(a)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for range 2 {
		line, err := r.ReadString('\n')
		if err != nil || line != "+OK\r\n" {
			t.Fatalf("reset: %q, %v", line, err)
		}
	}
}

// FuzzMachine parses arbitrary bytes into commands as the front end does
// and applies them as log entries to replicas of the state machine: one
// takes them in a single batch, another one at a time, as a follower
// catching up and a leader may. Replicas must agree, reply for reply and
// byte for byte in their snapshots, which must restore to the same state;
// replies must be RESP with Redis-style errors and no recovered panic.
// The commands the leader alone makes (rkv.exec, rkv.expired, rkv.evict,
// rkv.acl) are applied as they come too, since a replica must not diverge
// or stop on any entry.
func FuzzMachine(f *testing.F) {
	for _, in := range []string{
		"SET k v EX 10\r\nINCR n\r\nAPPEND k x\r\nGETDEL k\r\nSETRANGE r 5 ab\r\n",
		"HSET h f v g w\r\nHINCRBYFLOAT h n 1.5\r\nLPUSH l a b c\r\nLMOVE l m LEFT RIGHT\r\nLTRIM l 0 0\r\n",
		"SADD s 1 2 3 x\r\nSPOP s 2\r\nSMOVE s t 3\r\nZADD z 1 a 2 b\r\nZINCRBY z 5 a\r\nZPOPMIN z\r\n",
		"XADD x * f v\r\nXADD x MAXLEN 1 * g w\r\nXTRIM x MINID 0\r\nXSETID x 99-0\r\nXDEL x 1-1\r\n",
		"SET a 1\r\nRENAME a b\r\nCOPY b c\r\nEXPIRE c 1\r\nPERSIST c\r\nFLUSHALL\r\n",
		"SET k v\r\nrkv.exec 1 k 1 1 2 3 set k w 2 get k\r\nrkv.exec 0 1 2 incr n\r\n",
		"SET k v PX 5\r\nrkv.expired k\r\nrkv.evict n\r\nrkv.acl setuser u on >p\r\n",
		"*3\r\n$3\r\nSET\r\n$3\r\na\x00b\r\n$0\r\n\r\n",
	} {
		f.Add([]byte(in))
	}
	dir := []replica.Member{{ID: 1, ClientAddr: "127.0.0.1:7001", BusAddr: "127.0.0.1:17001"}}
	f.Fuzz(func(t *testing.T, in []byte) {
		ents := fuzzEntries(in)
		batch, single := newFuzzReplica(dir), newFuzzReplica(dir)
		replies := batch.Apply(ents)
		for i, e := range ents {
			r := single.Apply([]consensus.Entry{e})[0]
			if !bytes.Equal(r.([]byte), replies[i].([]byte)) {
				t.Fatalf("entry %d: %q applied alone, %q in a batch", i, r, replies[i])
			}
			checkReplies(t, r.([]byte), true)
		}
		snap := batch.snapshot(t)
		if !bytes.Equal(single.snapshot(t), snap) {
			t.Fatal("the replicas' snapshots differ")
		}
		restored := newFuzzReplica(dir)
		if err := restored.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if !bytes.Equal(restored.snapshot(t), snap) || restored.st.Digest() != batch.st.Digest() {
			t.Fatal("a restored replica differs")
		}
	})
}

// fuzzReplica is a state machine with its own store, members and users.
type fuzzReplica struct {
	consensus.StateMachine
	st *store.Store
}

func newFuzzReplica(dir []replica.Member) fuzzReplica {
	acl, _ := NewACL("", nil)
	st := store.New()
	return fuzzReplica{replica.NewStateMachine(st, replica.NewMembers(dir, nil), acl, 1, quietLogger(), nil), st}
}

func (r fuzzReplica) snapshot(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Snapshot()(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fuzzEntries parses in as the front end parses a client's bytes, into at
// most 100 commands (to keep each run short), and makes each an entry of
// the log stamped 10 ms after the one before.
func fuzzEntries(in []byte) []consensus.Entry {
	var ents []consensus.Entry
	for len(in) > 0 && len(ents) < 100 {
		complete, args, _, rest, err := redcon.ReadNextCommand(in, nil)
		if err != nil || !complete {
			break
		}
		in = rest
		if len(args) == 0 {
			continue
		}
		i := uint64(len(ents) + 1)
		ents = append(ents, consensus.Entry{Term: 1, Index: i, Data: replica.EncodeCommand(nil, 1_000_000+10*int64(i), args)})
	}
	return ents
}
