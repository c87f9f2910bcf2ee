package replica

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/script"
	"github.com/rkv/rkv/store"
)

// Kind is the kind of a state machine log entry: the first byte of each.
// Every entry then has the leader's wall-clock stamp (DESIGN.md: the
// store's clock) and its arguments. Kinds to come (a script's effects,
// unblocking a client, slot migration) take the next values.
type Kind byte

const (
	// KindCommand is one client write command, its name first.
	KindCommand Kind = 1
	// KindExec is an EXEC: store.ExecArgs.
	KindExec Kind = 2
	// KindExpire is keys the leader found expired.
	KindExpire Kind = 3
	// KindEvict is keys the leader evicts under maxmemory.
	KindEvict Kind = 4
	// KindACL is a change of the users (see Users.ApplyLog).
	KindACL Kind = 5
	// KindScript runs a Lua script or function (EncodeScript).
	KindScript Kind = 6
	// KindScriptCache changes the cached scripts or the function
	// libraries: the client's SCRIPT or FUNCTION command.
	KindScriptCache Kind = 7
	// KindPublish is a PUBLISH: channel and message (see publish.go).
	KindPublish Kind = 8
	// KindSPublish is an SPUBLISH: shard channel and message.
	KindSPublish Kind = 9
	// KindConfig changes replicated settings, the encoding thresholds:
	// pairs of a name and a value (store.OpConfig).
	KindConfig Kind = 10

	lastKind = KindConfig
)

// legacyKinds are the names the internal entries had when every entry was
// a command: logs and snapshots written before the kinds still apply.
var legacyKinds = map[string]Kind{"rkv.exec": KindExec, "rkv.expired": KindExpire, "rkv.evict": KindEvict,
	"rkv.acl": KindACL}

// EncodeCommand lays out a client's write command for the log.
func EncodeCommand(buf []byte, stampMs int64, args [][]byte) []byte {
	return EncodeEntry(buf, KindCommand, stampMs, args)
}

// EncodeEntry lays out an entry of kind for the log, in database 0.
func EncodeEntry(buf []byte, kind Kind, stampMs int64, args [][]byte) []byte {
	return EncodeEntryDB(buf, kind, 0, stampMs, args)
}

// inDB flags an entry's kind byte when the entry addresses a database
// other than 0: its number follows the stamp, as a uvarint. Entries of
// database 0 are laid out as before databases existed.
const inDB = 0x80

// EncodeEntryDB lays out an entry of kind addressing database db.
func EncodeEntryDB(buf []byte, kind Kind, db int, stampMs int64, args [][]byte) []byte {
	// Sized first: growing from empty took three allocations per SET.
	size := 1 + 8 + 2*binary.MaxVarintLen64
	for _, a := range args {
		size += binary.MaxVarintLen64 + len(a)
	}
	buf = slices.Grow(buf, size)
	if db == 0 {
		buf = append(buf, byte(kind))
		buf = binary.BigEndian.AppendUint64(buf, uint64(stampMs))
	} else {
		buf = append(buf, byte(kind)|inDB)
		buf = binary.BigEndian.AppendUint64(buf, uint64(stampMs))
		buf = binary.AppendUvarint(buf, uint64(db))
	}
	buf = binary.AppendUvarint(buf, uint64(len(args)))
	for _, a := range args {
		buf = binary.AppendUvarint(buf, uint64(len(a)))
		buf = append(buf, a...)
	}
	return buf
}

var errCorruptEntry = errors.New("replica: corrupt log entry")

// decodeEntry reads an entry EncodeEntryDB wrote, an internal one
// written before the kinds as its kind.
func decodeEntry(data []byte) (kind Kind, db int, stampMs int64, args [][]byte, err error) {
	if len(data) < 10 || Kind(data[0]&^inDB) < KindCommand || Kind(data[0]&^inDB) > lastKind {
		return 0, 0, 0, nil, errCorruptEntry
	}
	kind = Kind(data[0] &^ inDB)
	stampMs = int64(binary.BigEndian.Uint64(data[1:9]))
	rest := data[9:]
	if data[0]&inDB != 0 {
		d, n := binary.Uvarint(rest)
		if n <= 0 || d >= store.MaxDatabases {
			return 0, 0, 0, nil, errCorruptEntry
		}
		db, rest = int(d), rest[n:]
	}
	argc, n := binary.Uvarint(rest)
	if n <= 0 || argc > uint64(len(rest)) {
		return 0, 0, 0, nil, errCorruptEntry
	}
	rest = rest[n:]
	args = make([][]byte, argc)
	for i := range args {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return 0, 0, 0, nil, errCorruptEntry
		}
		args[i] = rest[n : n+int(l)]
		rest = rest[n+int(l):]
	}
	if kind == KindCommand && len(args) > 0 {
		if legacy, ok := legacyKinds[strings.ToLower(string(args[0]))]; ok {
			kind, args = legacy, args[1:]
		}
	}
	return kind, db, stampMs, args, nil
}

// Member is one node of the cluster as clients and peers reach it.
type Member struct {
	ID         consensus.NodeID
	ClientAddr string
	BusAddr    string
}

// Members is the directory of node addresses. Which members there are and
// their client addresses are replicated state (joins carry addresses in
// their conf change), so every node can name the leader in MOVED replies.
// Each bus address is this node's own route to that member, not replicated:
// a --cluster list may name a proxy or NAT address.
type Members struct {
	mu sync.RWMutex
	m  map[consensus.NodeID]Member
	// onChange tells the transport about new or removed peers.
	onChange func(m Member, removed bool)
}

// NewMembers returns a directory holding initial.
func NewMembers(initial []Member, onChange func(m Member, removed bool)) *Members {
	ms := &Members{m: make(map[consensus.NodeID]Member), onChange: onChange}
	for _, m := range initial {
		ms.Set(m)
	}
	return ms
}

// Get returns the member with the given id.
func (ms *Members) Get(id consensus.NodeID) (Member, bool) {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	m, ok := ms.m[id]
	return m, ok
}

// All returns every known member, sorted by id.
func (ms *Members) All() []Member {
	ms.mu.RLock()
	out := slices.Collect(maps.Values(ms.m))
	ms.mu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Set adds or updates a member.
func (ms *Members) Set(m Member) {
	ms.mu.Lock()
	ms.m[m.ID] = m
	ms.mu.Unlock()
	if ms.onChange != nil {
		ms.onChange(m, false)
	}
}

func (ms *Members) remove(id consensus.NodeID) {
	ms.mu.Lock()
	m, ok := ms.m[id]
	delete(ms.m, id)
	ms.mu.Unlock()
	if ok && ms.onChange != nil {
		ms.onChange(m, true)
	}
}

// MemberContext is the conf change context that carries a joining node's
// addresses, and whether it stays a learner (--learner): "client bus" or
// "client bus learner". Releases before learners that stay read the
// latter's bus address wrong, so --learner waits until every member runs
// one that knows it.
func MemberContext(m Member, learner bool) []byte {
	ctx := m.ClientAddr + " " + m.BusAddr
	if learner {
		ctx += " " + learnerMark
	}
	return []byte(ctx)
}

const learnerMark = "learner"

func parseMemberContext(id consensus.NodeID, ctx []byte) (mem Member, learner, ok bool) {
	f := strings.Split(string(ctx), " ")
	if len(f) < 2 || len(f) > 3 || len(f) == 3 && f[2] != learnerMark {
		return Member{}, false, false
	}
	return Member{ID: id, ClientAddr: f[0], BusAddr: f[1]}, len(f) == 3, true
}

// machine is the consensus.StateMachine of rkv: the store plus the member
// directory.
type machine struct {
	// monitor is shown the commands of scripts applied (MonitorScripts).
	monitor *atomic.Pointer[func(args [][]byte)]
	store   *store.Store
	members *Members
	users   Users
	self    consensus.NodeID
	logger  *slog.Logger
	// removed is set when this node's own removal is applied.
	removed func()
	// advertised holds the bus address each member's ConfAddLearner
	// carried: the replicated part of its route, which snapshots carry.
	// Members of the bootstrap configuration have none, their addresses
	// coming from each node's --cluster list rather than the log. Only the
	// driver's goroutine uses it (Apply, Snapshot, Restore).
	advertised map[consensus.NodeID]string
	// kept holds the learners that joined to stay learners: the leader
	// does not promote them (AutoPromote). Replicated state, which
	// snapshots carry; only the driver's goroutine uses it.
	kept map[consensus.NodeID]bool
	// changes receives what each entry changed in the store.
	changes *changeFeed
	// scripts are the cached scripts and function libraries, replicated
	// state, and the engine that runs them.
	scripts *script.Engine
	// publishes receives each applied PUBLISH and SPUBLISH.
	publishes *publishFeed
}

// Users is the replicated state of the ACL users, which the front end
// enforces: the state machine applies its entries and snapshots its lines.
type Users interface {
	// ApplyLog applies a KindACL entry and returns its RESP reply.
	ApplyLog(args [][]byte) []byte
	// SnapshotLines returns the users as ACL LIST lines, for a snapshot;
	// none until a change of the users came through the log.
	SnapshotLines() []string
	// CheckLine reports whether a snapshot's user line is well formed.
	CheckLine(line string) error
	// RestoreLines replaces the users with a snapshot's.
	RestoreLines(lines []string) error
}

// NewStateMachine returns the consensus.StateMachine that applies rkv's log
// to st and users and keeps members up to date. removed is called when
// this node's own removal is applied.
func NewStateMachine(st *store.Store, members *Members, users Users, self consensus.NodeID, logger *slog.Logger, removed func()) consensus.StateMachine {
	m := &machine{store: st, members: members, users: users, self: self, logger: logger, removed: removed,
		advertised: make(map[consensus.NodeID]string), kept: make(map[consensus.NodeID]bool), changes: newChangeFeed(), scripts: script.New(scriptLogger(logger)),
		publishes: &publishFeed{}, monitor: new(atomic.Pointer[func(args [][]byte)])}
	st.SetScriptRunner(m.runTransactionScript)
	return m
}

// Apply implements consensus.StateMachine.
func (m *machine) Apply(ents []consensus.Entry) []any {
	results := make([]any, len(ents))
	for i, e := range ents {
		switch {
		case e.Type == consensus.EntryConfChange:
			m.applyConfChange(e)
		case len(e.Data) == 0:
			// A leader's no-op.
		default:
			kind, db, stamp, args, err := decodeEntry(e.Data)
			if err != nil {
				// Every replica decodes the same bytes the same way, so
				// skipping keeps them in agreement; it is logged loudly.
				m.logger.Error("skipping undecodable entry", "index", e.Index, "err", err)
				results[i] = []byte("-ERR corrupt log entry\r\n")
				continue
			}
			results[i] = m.applyEntry(e.Index, kind, db, stamp, args)
			m.changes.publish(m.store)
		}
	}
	return results
}

// storeOps are the entry kinds the store applies, by their store.Op.
var storeOps = map[Kind]store.Op{KindCommand: store.OpCommand, KindExec: store.OpExec,
	KindExpire: store.OpExpire, KindEvict: store.OpEvict, KindConfig: store.OpConfig}

// applyEntry applies one entry. A panic in the store would otherwise
// stop every replica at the same entry, again after each restart, so it
// becomes an error reply instead; all replicas recover alike.
func (m *machine) applyEntry(index uint64, kind Kind, db int, stamp int64, args [][]byte) (reply []byte) {
	defer func() {
		if p := recover(); p != nil {
			what := fmt.Sprintf("entry kind %d", kind)
			if kind == KindCommand && len(args) > 0 {
				what = string(args[0])
			}
			m.logger.Error("entry panicked while being applied; answered with an error",
				"index", index, "entry", what, "panic", p)
			reply = []byte("-ERR internal error applying the command\r\n")
		}
	}()
	switch kind {
	case KindACL:
		return m.users.ApplyLog(args)
	case KindScript:
		return m.runScript(stamp, args)
	case KindScriptCache:
		return m.changeScripts(args)
	case KindPublish, KindSPublish:
		return m.publishes.deliver(index, kind == KindSPublish, args)
	}
	return m.store.ApplyOp(storeOps[kind], db, stamp, args, nil)
}

func (m *machine) applyConfChange(e consensus.Entry) {
	cc, err := consensus.UnmarshalConfChange(e.Data)
	if err != nil {
		m.logger.Error("bad conf change entry", "index", e.Index, "err", err)
		return
	}
	switch cc.Type {
	case consensus.ConfAddLearner:
		if mem, learner, ok := parseMemberContext(cc.Node, cc.Context); ok {
			m.advertised[mem.ID] = mem.BusAddr
			if learner {
				m.kept[mem.ID] = true
			}
			m.members.Set(mem)
		}
	case consensus.ConfPromote:
		delete(m.kept, cc.Node)
	case consensus.ConfRemove:
		delete(m.kept, cc.Node)
		if cc.Node == m.self {
			if m.removed != nil {
				m.removed()
			}
			return
		}
		m.removeMember(cc.Node)
	}
}

// autoPromote is the core's Config.AutoPromote: a learner that joined
// with --learner stays one.
func (m *machine) autoPromote(id consensus.NodeID) bool { return !m.kept[id] }

// removeMember drops a member from the directory, telling the transport.
func (m *machine) removeMember(id consensus.NodeID) {
	delete(m.advertised, id)
	m.members.remove(id)
}

// A snapshot is snapshotMagic, the member count and each member by
// increasing id (uvarint id, client address, advertised bus address or
// empty, each address a uvarint length and its bytes), the count of
// learners that stay learners and their ids, increasing, the count of ACL
// users and each as its ACL LIST line (none until a change of the users
// came through the log; a uvarint length and the bytes), the count of
// cached scripts and each body by increasing sha, the count of function
// libraries and each one's code by name (strings as the users'), then the
// store's snapshot.
//
// Its bytes depend on the replicated state only, so every node's snapshot
// of one index is the same and a follower may assemble one from chunks of
// different leaders' snapshots. That is why a member's bus address in it is
// the one its conf change advertised, not the writer's route to it: routes
// are local, and Restore keeps the installing node's. Client addresses are
// replicated in effect: the bootstrap ones must agree across --cluster lists
// (the cluster id is derived from them), the others come from conf changes.
//
// While no learner stays one (none joined with --learner), a snapshot is
// written as snapshotMagicV4, which has no list of them: the previous
// release's format, byte for byte.
const (
	snapshotMagic = "RKVSNAP5"
	// snapshotMagicV4 snapshots have no learners that stay learners.
	snapshotMagicV4 = "RKVSNAP4"
	// snapshotMagicV3 snapshots have no scripts; they are still read.
	snapshotMagicV3 = "RKVSNAP3"
	// snapshotMagicV2 snapshots have no ACL users; they are still read.
	snapshotMagicV2 = "RKVSNAP2"
	// snapshotMagicV1 snapshots also hold their writer's routes in place
	// of advertised bus addresses. They are still read, their routes used
	// for members this node does not know, but none is advertised on.
	snapshotMagicV1 = "RKVSNAP1"
	// maxACLLine bounds one user's line in a snapshot.
	maxACLLine = 1 << 20
	// maxScript bounds one script or library in a snapshot: a client
	// sends none longer than a bulk string.
	maxScript = 512 << 20
)

// Snapshot implements consensus.StateMachine: it captures the store and the
// members now and serializes them later.
func (m *machine) Snapshot() consensus.SnapshotWriter {
	members := m.members.All()
	hdr := []byte(snapshotMagicV4)
	if len(m.kept) > 0 {
		hdr = []byte(snapshotMagic)
	}
	hdr = binary.AppendUvarint(hdr, uint64(len(members)))
	for _, mem := range members {
		hdr = binary.AppendUvarint(hdr, uint64(mem.ID))
		hdr = appendString(hdr, mem.ClientAddr)
		hdr = appendString(hdr, m.advertised[mem.ID])
	}
	if len(m.kept) > 0 {
		kept := slices.Sorted(maps.Keys(m.kept))
		hdr = binary.AppendUvarint(hdr, uint64(len(kept)))
		for _, id := range kept {
			hdr = binary.AppendUvarint(hdr, uint64(id))
		}
	}
	for _, lines := range [][]string{m.users.SnapshotLines(), m.scripts.SnapshotScripts(), m.scripts.SnapshotLibraries()} {
		hdr = binary.AppendUvarint(hdr, uint64(len(lines)))
		for _, l := range lines {
			hdr = appendString(hdr, l)
		}
	}
	snap := m.store.Snapshot()
	return func(w io.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err := snap.WriteTo(w)
		return err
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Restore implements consensus.StateMachine. Everything is decoded before
// anything changes, so a snapshot that does not decode leaves the state as
// it was (store.Restore swaps its tree in only on success).
func (m *machine) Restore(src io.Reader) error {
	r := bufio.NewReaderSize(src, 1<<16)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !knownMagic(string(magic)) {
		return fmt.Errorf("replica: snapshot does not start with %q", snapshotMagic)
	}
	v1 := string(magic) == snapshotMagicV1
	members, kept, err := readMembers(r, string(magic))
	if err != nil {
		return err
	}
	users, scripts, libraries, err := readReplicated(r, string(magic))
	if err != nil {
		return err
	}
	for _, line := range users {
		if err := m.users.CheckLine(line); err != nil {
			return fmt.Errorf("replica: corrupt snapshot user: %w", err)
		}
	}
	if err := m.store.Restore(r); err != nil {
		return err
	}
	m.changes.publish(m.store)
	if err := m.users.RestoreLines(users); err != nil {
		return err
	}
	if err := m.scripts.RestoreScripts(scripts); err != nil {
		return err
	}
	if err := m.scripts.RestoreLibraries(libraries); err != nil {
		return err
	}
	m.restoreMembers(members, v1)
	m.kept = kept
	return nil
}

// knownMagic reports whether a snapshot's magic is one Restore reads.
func knownMagic(magic string) bool {
	switch magic {
	case snapshotMagic, snapshotMagicV4, snapshotMagicV3, snapshotMagicV2, snapshotMagicV1:
		return true
	}
	return false
}

// byteReader is what the snapshot header is read from: a bufio.Reader
// when restoring, a bytes.Reader for a backup file in memory.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// readMembers reads a snapshot's member list, which follows its magic,
// and the learners that stay learners (none before snapshotMagic).
func readMembers(r byteReader, magic string) ([]Member, map[consensus.NodeID]bool, error) {
	count, err := binary.ReadUvarint(r)
	if err != nil || count > 1<<16 {
		return nil, nil, fmt.Errorf("replica: corrupt snapshot member list")
	}
	members := make([]Member, 0, count)
	for range count {
		id, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, nil, fmt.Errorf("replica: corrupt snapshot member list: %w", err)
		}
		client, err := readString(r, 1<<12)
		if err != nil {
			return nil, nil, err
		}
		bus, err := readString(r, 1<<12)
		if err != nil {
			return nil, nil, err
		}
		members = append(members, Member{ID: consensus.NodeID(id), ClientAddr: client, BusAddr: bus})
	}
	kept := make(map[consensus.NodeID]bool)
	if magic != snapshotMagic {
		return members, kept, nil
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > count {
		return nil, nil, fmt.Errorf("replica: corrupt snapshot learner list")
	}
	for range n {
		id, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, nil, fmt.Errorf("replica: corrupt snapshot learner list: %w", err)
		}
		kept[consensus.NodeID(id)] = true
	}
	return members, kept, nil
}

// readReplicated reads what follows the member list in a snapshot of the
// version magic names: the ACL users' lines, the cached scripts and the
// function libraries (none in the versions before them).
func readReplicated(r byteReader, magic string) (users, scripts, libraries []string, err error) {
	if magic == snapshotMagicV1 || magic == snapshotMagicV2 {
		return nil, nil, nil, nil
	}
	if users, err = readStrings(r, 1<<20, maxACLLine); err != nil {
		return nil, nil, nil, fmt.Errorf("replica: corrupt snapshot user list: %w", err)
	}
	if magic == snapshotMagicV3 {
		return users, nil, nil, nil
	}
	if scripts, err = readStrings(r, 1<<24, maxScript); err != nil {
		return nil, nil, nil, fmt.Errorf("replica: corrupt snapshot script cache: %w", err)
	}
	if libraries, err = readStrings(r, 1<<20, maxScript); err != nil {
		return nil, nil, nil, fmt.Errorf("replica: corrupt snapshot function libraries: %w", err)
	}
	return users, scripts, libraries, nil
}

// restoreMembers makes the directory the snapshot's. This node's own entry
// stays as it is, being its own listening addresses (a snapshot taken before
// this node's ConfAddLearner does not list it yet).
func (m *machine) restoreMembers(snap []Member, v1 bool) {
	in := make(map[consensus.NodeID]bool, len(snap))
	for _, mem := range snap {
		in[mem.ID] = true
	}
	for _, cur := range m.members.All() {
		if !in[cur.ID] && cur.ID != m.self {
			m.removeMember(cur.ID)
		}
	}
	m.advertised = make(map[consensus.NodeID]string, len(snap))
	for _, mem := range snap {
		if !v1 && mem.BusAddr != "" {
			m.advertised[mem.ID] = mem.BusAddr
		}
		if mem.ID == m.self {
			continue
		}
		// A member known under the same client address keeps this node's
		// route to it; any other takes the snapshot's.
		cur, known := m.members.Get(mem.ID)
		if known && cur.ClientAddr == mem.ClientAddr {
			continue
		}
		if mem.BusAddr == "" {
			mem.BusAddr = cur.BusAddr
		}
		if mem.BusAddr == "" {
			m.logger.Warn("snapshot lists a member of the bootstrap configuration this node has no bus address for",
				"member", mem.ID, "client_addr", mem.ClientAddr)
		}
		m.members.Set(mem)
	}
}

// readString reads a uvarint length, at most limit, and that many bytes.
// readStrings reads a count, at most maxCount, and that many strings of at
// most limit bytes each.
func readStrings(r byteReader, maxCount, limit uint64) ([]string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > maxCount {
		return nil, fmt.Errorf("bad count")
	}
	var out []string
	for range n {
		s, err := readString(r, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func readString(r byteReader, limit uint64) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > limit {
		return "", fmt.Errorf("replica: corrupt snapshot header string")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("replica: corrupt snapshot header string: %w", err)
	}
	return string(b), nil
}
