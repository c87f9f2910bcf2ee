package store

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"

	"github.com/rkv/rkv/internal/rdb"
)

// A stream in RDB (RDB_TYPE_STREAM_LISTPACKS_2, rdbSaveObject): its
// listpack nodes, each keyed by its master ID (16 bytes big-endian) then
// the stream's length, last ID, first ID, greatest deleted ID and entries
// added, then its consumer groups: name, last ID, entries read, the PEL
// (raw ID, delivery time in 8 bytes little-endian, delivery count) and the
// consumers (name, seen time, their pending IDs).
//
// A node's listpack starts with its master entry: live count, deleted
// count, the master field count and fields, and a 0. Each entry follows
// as flags, ms and seq differences from the master ID, then its values
// alone when its fields are the master's (flag samefields) or else its
// field count, fields and values, then its element count (lp-count).

const (
	streamFlagDeleted    = 1
	streamFlagSameFields = 2
)

func appendStreamIDRaw(b []byte, id streamID) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, id.ms), id.seq)
}

func appendRDBStream(b []byte, st *stream) []byte {
	b = append(b, rdbTypeStreamLP2)
	live := 0
	st.nodes.Scan(func(n streamNode) bool {
		if n.live > 0 {
			live++
		}
		return true
	})
	b = rdb.AppendLen(b, uint64(live))
	iter := st.entries.Iter()
	defer iter.Release()
	iter.First()
	st.nodes.Scan(func(n streamNode) bool {
		if n.live == 0 {
			return true
		}
		w := newLPWriter()
		fields := unpackAll(n.fields)
		w.int(int64(n.live))
		w.int(0)
		w.int(int64(len(fields)))
		for _, f := range fields {
			w.str(f)
		}
		w.int(0)
		for range n.live {
			e := iter.Item()
			iter.Next()
			pairs := unpackAll(e.data)
			same := sameFields(n.fields, pairs)
			flags := int64(0)
			if same {
				flags = streamFlagSameFields
			}
			w.int(flags)
			w.int(int64(e.id.ms - n.first.ms))
			w.int(int64(e.id.seq - n.first.seq))
			if !same {
				w.int(int64(len(pairs) / 2))
			}
			for i, s := range pairs {
				if i%2 == 1 || !same {
					w.str(s)
				}
			}
			if same {
				w.int(int64(len(pairs)/2 + 3))
			} else {
				w.int(int64(len(pairs) + 4))
			}
		}
		b = rdb.AppendString(rdb.AppendString(b, appendStreamIDRaw(nil, n.first)), w.finish())
		return true
	})
	var first streamID
	if e, ok := st.entries.Min(); ok {
		first = e.id
	}
	for _, v := range []uint64{uint64(st.length()), st.lastID.ms, st.lastID.seq, first.ms, first.seq,
		st.maxDeleted.ms, st.maxDeleted.seq, st.entriesAdded, uint64(len(st.groups))} {
		b = rdb.AppendLen(b, v)
	}
	for _, g := range st.groups {
		b = rdb.AppendString(b, s2b(g.name))
		b = rdb.AppendLen(rdb.AppendLen(b, g.lastID.ms), g.lastID.seq)
		b = rdb.AppendLen(b, uint64(g.entriesRead))
		b = rdb.AppendLen(b, uint64(g.pel.Len()))
		g.pel.Scan(func(p pendingEntry) bool {
			b = appendStreamIDRaw(b, p.id)
			b = binary.LittleEndian.AppendUint64(b, uint64(p.delivered))
			b = rdb.AppendLen(b, p.count)
			return true
		})
		b = rdb.AppendLen(b, uint64(g.consumers.Len()))
		g.consumers.Scan(func(c *consumer) bool {
			b = rdb.AppendString(b, s2b(c.name))
			b = binary.LittleEndian.AppendUint64(b, uint64(c.seen))
			b = rdb.AppendLen(b, uint64(c.pel.Len()))
			c.pel.Scan(func(id streamID) bool {
				b = appendStreamIDRaw(b, id)
				return true
			})
			return true
		})
	}
	return b
}

// unpackAll lists the strings of packed data.
func unpackAll(data string) [][]byte {
	u := unpacked{data}
	n, _ := u.uvarint()
	out := make([][]byte, n)
	for i := range out {
		s, _ := u.next()
		out[i] = s2b(s)
	}
	return out
}

// loadRDBStream reads a stream (v2: RDB_TYPE_STREAM_LISTPACKS_2, else the
// first version, without first ID, deleted ID, entries added and entries
// read) and rebuilds it through what the stream's snapshot encoding lists,
// so that loadStream checks every invariant rkv relies on.
func loadRDBStream(r *rdb.Reader, v2 bool) (container, bool) {
	n, ok := rdbCount(r, 2)
	if !ok {
		return nil, false
	}
	var nodes, entries [][]byte
	for range n {
		key, ok1 := r.Str()
		lp, ok2 := r.Str()
		if !ok1 || !ok2 || len(key) != 16 {
			return nil, false
		}
		master := streamID{binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:])}
		node, es, ok := loadStreamNode(master, lp)
		if !ok {
			return nil, false
		}
		nodes = append(nodes, node)
		entries = append(entries, es...)
		entries = append(entries, nil) // marks the node's end
	}
	var hdr [9]uint64
	count := 3
	if v2 {
		count = 8
	}
	for i := range count {
		if hdr[i], ok = r.Len(); !ok {
			return nil, false
		}
	}
	last := streamID{hdr[1], hdr[2]}
	maxDel, added := streamID{hdr[5], hdr[6]}, hdr[7]
	if !v2 {
		added = hdr[0]
	}
	groups, ok := loadRDBGroups(r, v2)
	if !ok {
		return nil, false
	}
	var elems [][]byte
	var buf []byte
	for _, v := range []uint64{last.ms, last.seq, maxDel.ms, maxDel.seq, added, uint64(len(nodes))} {
		buf = binary.AppendUvarint(buf, v)
	}
	elems = append(elems, buf)
	i := 0
	for _, node := range nodes {
		elems = append(elems, node)
		for ; entries[i] != nil; i++ {
			elems = append(elems, entries[i])
		}
		i++
	}
	elems = append(elems, groups...)
	c, err := loaders[kindStream](len(elems), func() ([]byte, error) {
		if len(elems) == 0 {
			return nil, errBadValue
		}
		e := elems[0]
		elems = elems[1:]
		return e, nil
	})
	if err != nil || len(elems) != 0 || uint64(c.length()) != hdr[0] {
		return nil, false
	}
	if !v2 {
		// A stream from before Redis 7 has no group counters: each is
		// estimated from the group's last ID, as rdbLoadObject does.
		st := c.(*stream)
		for _, g := range st.groups {
			g.entriesRead = st.entriesBefore(g.lastID)
		}
	}
	return c, true
}

// loadStreamNode reads a node's listpack into its snapshot element and its
// live entries' elements.
func loadStreamNode(master streamID, lp []byte) (node []byte, entries [][]byte, ok bool) {
	el, ok := lpElems(lp)
	if !ok || len(el) == 0 {
		return nil, nil, false
	}
	next := func() ([]byte, bool) {
		if len(el) == 0 {
			return nil, false
		}
		e := el[0]
		el = el[1:]
		return e, true
	}
	num := func() (int64, bool) {
		e, ok := next()
		if !ok {
			return 0, false
		}
		return parseInt(b2s(e))
	}
	_, ok1 := num() // the counts are recounted below
	_, ok2 := num()
	nf, ok3 := num()
	if !ok1 || !ok2 || !ok3 || nf < 0 || int(nf) > len(el) {
		return nil, nil, false
	}
	fields := slices.Clone(el[:nf])
	el = el[nf:]
	if z, ok := num(); !ok || z != 0 {
		return nil, nil, false
	}
	lastID := master
	live, deleted := 0, 0
	for len(el) > 0 {
		flags, ok1 := num()
		dms, ok2 := num()
		dseq, ok3 := num()
		if !ok1 || !ok2 || !ok3 {
			return nil, nil, false
		}
		id := streamID{master.ms + uint64(dms), master.seq + uint64(dseq)}
		var pairs [][]byte
		if flags&streamFlagSameFields != 0 {
			for _, f := range fields {
				v, ok := next()
				if !ok {
					return nil, nil, false
				}
				pairs = append(pairs, f, v)
			}
		} else {
			k, ok := num()
			if !ok || k < 0 || 2*k > int64(len(el)) {
				return nil, nil, false
			}
			pairs = el[:2*k]
			el = el[2*k:]
		}
		if _, ok := num(); !ok {
			return nil, nil, false
		}
		lastID = id
		if flags&streamFlagDeleted != 0 {
			deleted++
			continue
		}
		live++
		e := binary.AppendUvarint(binary.AppendUvarint(nil, id.ms), id.seq)
		entries = append(entries, append(e, packStrings(pairs)...))
	}
	var buf []byte
	for _, v := range []uint64{master.ms, master.seq, lastID.ms, lastID.seq, uint64(live), uint64(deleted), uint64(len(lp))} {
		buf = binary.AppendUvarint(buf, v)
	}
	return append(buf, packStrings(fields)...), entries, true
}

// rdbGroup is a consumer group as read, before it is listed in the
// snapshot encoding's order.
type rdbGroup struct {
	name      string
	head      []byte // last ID and entries read+1, as encodeGroups lists them
	consumers []rdbConsumer
	pel       map[streamID]*rdbPending
}

type rdbConsumer struct {
	name string
	seen int64
}

type rdbPending struct {
	delivered int64
	count     uint64
	owner     int // index into consumers; -1 until a consumer claims it
}

// loadRDBGroups reads the consumer groups and lists them as the stream's
// snapshot encoding does (encodeGroups): groups by name, consumers by
// name, pending entries by ID.
func loadRDBGroups(r *rdb.Reader, v2 bool) ([][]byte, bool) {
	n, ok := rdbCount(r, 3)
	if !ok {
		return nil, false
	}
	groups := make([]rdbGroup, 0, n)
	for range n {
		name, ok := r.Str()
		if !ok {
			return nil, false
		}
		g := rdbGroup{name: string(name), pel: map[streamID]*rdbPending{}}
		var ms, seq, read uint64
		ms, ok1 := r.Len()
		seq, ok2 := r.Len()
		read, ok3 := uint64(math.MaxUint64), true // noEntriesRead
		if v2 {
			read, ok3 = r.Len()
		}
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		for _, v := range []uint64{ms, seq, read + 1} {
			g.head = binary.AppendUvarint(g.head, v)
		}
		if !loadRDBPEL(r, &g) || !loadRDBConsumers(r, &g) {
			return nil, false
		}
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b rdbGroup) int { return strings.Compare(a.name, b.name) })
	var out [][]byte
	for i, g := range groups {
		if i > 0 && groups[i-1].name == g.name {
			return nil, false
		}
		out = appendRDBGroup(out, g)
		if out == nil {
			return nil, false
		}
	}
	return out, true
}

func loadRDBPEL(r *rdb.Reader, g *rdbGroup) bool {
	n, ok := rdbCount(r, 25)
	for i := 0; ok && i < n; i++ {
		raw, ok1 := r.Raw(16)
		t, ok2 := r.Raw(8)
		count, ok3 := r.Len()
		if !ok1 || !ok2 || !ok3 {
			return false
		}
		id := streamID{binary.BigEndian.Uint64(raw), binary.BigEndian.Uint64(raw[8:])}
		if g.pel[id] != nil {
			return false
		}
		g.pel[id] = &rdbPending{int64(binary.LittleEndian.Uint64(t)), count, -1}
	}
	return ok
}

func loadRDBConsumers(r *rdb.Reader, g *rdbGroup) bool {
	n, ok := rdbCount(r, 10)
	for i := 0; ok && i < n; i++ {
		name, ok1 := r.Str()
		t, ok2 := r.Raw(8)
		k, ok3 := rdbCount(r, 16)
		if !ok1 || !ok2 || !ok3 {
			return false
		}
		g.consumers = append(g.consumers, rdbConsumer{string(name), int64(binary.LittleEndian.Uint64(t))})
		for range k {
			raw, _ := r.Raw(16)
			p := g.pel[streamID{binary.BigEndian.Uint64(raw), binary.BigEndian.Uint64(raw[8:])}]
			if p == nil || p.owner >= 0 {
				return false // Redis: a consumer's entry missing from the group's PEL
			}
			p.owner = i
		}
	}
	return ok
}

// appendRDBGroup lists a group as encodeGroups does; nil when an entry of
// its PEL has no consumer or two consumers share a name.
func appendRDBGroup(out [][]byte, g rdbGroup) [][]byte {
	order := make([]int, len(g.consumers))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(g.consumers[a].name, g.consumers[b].name) })
	pos := make([]uint64, len(order))
	for k, i := range order {
		if k > 0 && g.consumers[order[k-1]].name == g.consumers[i].name {
			return nil
		}
		pos[i] = uint64(k)
	}
	head := binary.AppendUvarint(slices.Clone(g.head), uint64(len(g.consumers)))
	head = binary.AppendUvarint(head, uint64(len(g.pel)))
	out = append(out, append(head, g.name...))
	for _, i := range order {
		out = append(out, append(binary.AppendVarint(nil, g.consumers[i].seen), g.consumers[i].name...))
	}
	ids := make([]streamID, 0, len(g.pel))
	for id := range g.pel {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, streamID.cmp)
	for _, id := range ids {
		p := g.pel[id]
		if p.owner < 0 {
			return nil
		}
		e := binary.AppendUvarint(binary.AppendUvarint(nil, id.ms), id.seq)
		e = binary.AppendVarint(e, p.delivered)
		e = binary.AppendUvarint(e, p.count)
		out = append(out, binary.AppendUvarint(e, pos[p.owner]))
	}
	return out
}
