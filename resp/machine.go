package resp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// entryCommand marks a log entry holding one client write command.
const entryCommand byte = 1

// encodeCommand lays out a write command for the log: a kind byte, the
// leader's wall-clock stamp (DESIGN.md: the store's clock), and the args.
func encodeCommand(buf []byte, stampMs int64, args [][]byte) []byte {
	buf = append(buf, entryCommand)
	buf = binary.BigEndian.AppendUint64(buf, uint64(stampMs))
	buf = binary.AppendUvarint(buf, uint64(len(args)))
	for _, a := range args {
		buf = binary.AppendUvarint(buf, uint64(len(a)))
		buf = append(buf, a...)
	}
	return buf
}

var errCorruptEntry = errors.New("resp: corrupt command entry")

func decodeCommand(data []byte) (int64, [][]byte, error) {
	if len(data) < 10 || data[0] != entryCommand {
		return 0, nil, errCorruptEntry
	}
	stamp := int64(binary.BigEndian.Uint64(data[1:9]))
	rest := data[9:]
	argc, n := binary.Uvarint(rest)
	if n <= 0 || argc > uint64(len(rest)) {
		return 0, nil, errCorruptEntry
	}
	rest = rest[n:]
	args := make([][]byte, argc)
	for i := range args {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return 0, nil, errCorruptEntry
		}
		args[i] = rest[n : n+int(l)]
		rest = rest[n+int(l):]
	}
	return stamp, args, nil
}

// Member is one node of the cluster as clients and peers reach it.
type Member struct {
	ID         consensus.NodeID
	ClientAddr string
	BusAddr    string
}

// Members is the directory of node addresses. It is part of the replicated
// state (joins carry addresses in their conf change) so every node can
// name the leader in MOVED replies.
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

// All returns every known member, in no particular order.
func (ms *Members) All() []Member {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	out := make([]Member, 0, len(ms.m))
	for _, m := range ms.m {
		out = append(out, m)
	}
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

// memberContext is the conf change context that carries a joining node's
// addresses: "client bus".
func memberContext(m Member) []byte { return []byte(m.ClientAddr + " " + m.BusAddr) }

func parseMemberContext(id consensus.NodeID, ctx []byte) (Member, bool) {
	client, bus, ok := bytes.Cut(ctx, []byte(" "))
	if !ok {
		return Member{}, false
	}
	return Member{ID: id, ClientAddr: string(client), BusAddr: string(bus)}, true
}

// machine is the consensus.StateMachine of rkv: the store plus the member
// directory.
type machine struct {
	store   *store.Store
	members *Members
	self    consensus.NodeID
	logger  *slog.Logger
	// removed is set when this node's own removal is applied.
	removed func()
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
			stamp, args, err := decodeCommand(e.Data)
			if err != nil {
				// Every replica decodes the same bytes the same way, so
				// skipping keeps them in agreement; it is logged loudly.
				m.logger.Error("skipping undecodable entry", "index", e.Index, "err", err)
				results[i] = []byte("-ERR corrupt log entry\r\n")
				continue
			}
			results[i] = m.applyCommand(e.Index, stamp, args)
		}
	}
	return results
}

// applyCommand applies one command. A panic in the store would otherwise
// stop every replica at the same entry, again after each restart, so it
// becomes an error reply instead; all replicas recover alike.
func (m *machine) applyCommand(index uint64, stamp int64, args [][]byte) (reply []byte) {
	defer func() {
		if p := recover(); p != nil {
			m.logger.Error("command panicked while being applied; answered with an error",
				"index", index, "command", string(args[0]), "panic", p)
			reply = []byte("-ERR internal error applying the command\r\n")
		}
	}()
	return m.store.Apply(stamp, args, nil)
}

func (m *machine) applyConfChange(e consensus.Entry) {
	cc, err := consensus.UnmarshalConfChange(e.Data)
	if err != nil {
		m.logger.Error("bad conf change entry", "index", e.Index, "err", err)
		return
	}
	switch cc.Type {
	case consensus.ConfAddLearner:
		if mem, ok := parseMemberContext(cc.Node, cc.Context); ok {
			m.members.Set(mem)
		}
	case consensus.ConfRemove:
		if cc.Node == m.self {
			if m.removed != nil {
				m.removed()
			}
			return
		}
		m.members.remove(cc.Node)
	}
}

// snapshotMagic starts every rkv snapshot so a foreign file is refused.
const snapshotMagic = "RKVSNAP1"

// Snapshot implements consensus.StateMachine: it captures the store and the
// members now and serializes them later.
func (m *machine) Snapshot() consensus.SnapshotWriter {
	members := m.members.All()
	snap := m.store.Snapshot()
	return func(w io.Writer) error {
		hdr := []byte(snapshotMagic)
		hdr = binary.AppendUvarint(hdr, uint64(len(members)))
		for _, mem := range members {
			hdr = binary.AppendUvarint(hdr, uint64(mem.ID))
			hdr = appendString(hdr, mem.ClientAddr)
			hdr = appendString(hdr, mem.BusAddr)
		}
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

// Restore implements consensus.StateMachine.
func (m *machine) Restore(data []byte) error {
	if !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		return fmt.Errorf("resp: snapshot does not start with %q", snapshotMagic)
	}
	r := bufio.NewReader(bytes.NewReader(data[len(snapshotMagic):]))
	count, err := binary.ReadUvarint(r)
	if err != nil || count > 1<<16 {
		return fmt.Errorf("resp: corrupt snapshot member list")
	}
	members := make([]Member, 0, count)
	for range count {
		id, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("resp: corrupt snapshot member list: %w", err)
		}
		client, err := readString(r)
		if err != nil {
			return err
		}
		bus, err := readString(r)
		if err != nil {
			return err
		}
		members = append(members, Member{ID: consensus.NodeID(id), ClientAddr: client, BusAddr: bus})
	}
	if err := m.store.Restore(r); err != nil {
		return err
	}
	for _, mem := range members {
		// The snapshot holds its sender's route to each member's bus (its
		// own listening address for itself, a proxy or NAT address for
		// the others), which need not be this node's: a member already
		// known under the same client address keeps its local route.
		if cur, ok := m.members.Get(mem.ID); ok && cur.ClientAddr == mem.ClientAddr {
			continue
		}
		m.members.Set(mem)
	}
	return nil
}

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<12 {
		return "", fmt.Errorf("resp: corrupt snapshot member address")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("resp: corrupt snapshot member address: %w", err)
	}
	return string(b), nil
}
