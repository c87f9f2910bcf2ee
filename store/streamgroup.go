package store

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/btree"
	"github.com/tidwall/redcon"
)

var streamGroupCommands = []*Command{
	def("xack", xackCmd),
	def("xautoclaim", xautoclaimCmd),
	def("xclaim", xclaimCmd),
	def("xgroup", xgroupCmd),
	def("xinfo", xinfoCmd),
	def("xpending", xpendingCmd),
	def("xreadgroup", xreadgroupCmd),
}

// Consumer groups.
//
// A stream's groups are part of its value: in snapshots, the digest and
// memory accounting, and cloned with it. Each group has its pending
// entries list (PEL), a B-tree by ID whose entries name their consumer,
// and its consumers, each with the IDs of its own pending entries, as
// Redis keeps a group PEL and one per consumer. Times (delivery, a
// consumer's last sight) are the log's clock at the write that set them,
// so every replica holds the same; reads measure idle times against their
// query time.
//
// Redis signals no key change for what only the groups change (XACK,
// XREADGROUP, XCLAIM, XGROUP but a created stream), so those writes keep
// the key's version: a WATCH on the stream is not aborted by them.

const (
	errNoGroupRead   = "NOGROUP No such key '%k' or consumer group '%g' in XREADGROUP with GROUP option"
	errNoGroupKey    = "NOGROUP No such key '%k' or consumer group '%g'"
	errNoGroupName   = "NOGROUP No such consumer group '%g' for key name '%k'"
	errBusyGroup     = "BUSYGROUP Consumer Group name already exists"
	errXGroupNoKey   = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
	errEntriesRead   = "ERR value for ENTRIESREAD must be positive or -1"
	errXReadGroupMis = "ERR Missing GROUP option for XREADGROUP"
	errXReadGroupDol = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
	errAutoclaimCnt  = "ERR COUNT must be > 0"
)

// noEntriesRead is a group's entries-read when it is unknown (Redis's
// SCG_INVALID_ENTRIES_READ).
const noEntriesRead = -1

// pendingEntry is an entry delivered to a consumer and not acknowledged.
type pendingEntry struct {
	id        streamID
	consumer  string
	delivered int64  // when last delivered, ms on the log's clock
	count     uint64 // times delivered
}

func pendingLess(a, b pendingEntry) bool { return a.id.cmp(b.id) < 0 }

type consumer struct {
	name string
	seen int64 // the last write that named it, ms on the log's clock
	pel  *btree.BTreeG[streamID]
}

func consumerLess(a, b *consumer) bool { return a.name < b.name }

func idLess(a, b streamID) bool { return a.cmp(b) < 0 }

type cgroup struct {
	name        string
	lastID      streamID
	entriesRead int64 // noEntriesRead when unknown
	pel         *btree.BTreeG[pendingEntry]
	consumers   *btree.BTreeG[*consumer]
}

func newGroup(name string, last streamID, entriesRead int64) *cgroup {
	return &cgroup{
		name: name, lastID: last, entriesRead: entriesRead,
		pel:       btree.NewBTreeGOptions(pendingLess, btree.Options{NoLocks: true}),
		consumers: btree.NewBTreeGOptions(consumerLess, btree.Options{NoLocks: true}),
	}
}

// clone copies the group: its trees in O(1) each, copy-on-write, and each
// consumer, so the cost is the number of consumers.
func (g *cgroup) clone() *cgroup {
	c := *g
	c.pel = g.pel.Copy()
	c.consumers = btree.NewBTreeGOptions(consumerLess, btree.Options{NoLocks: true})
	g.consumers.Scan(func(x *consumer) bool {
		y := *x
		y.pel = x.pel.Copy()
		c.consumers.Load(&y)
		return true
	})
	return &c
}

func (g *cgroup) consumer(name string) *consumer {
	c, _ := g.consumers.Get(&consumer{name: name})
	return c
}

// Approximate costs of a group, a consumer and a pending entry (in the
// group's PEL and its consumer's), beside their names.
const (
	groupOverhead    = 160
	consumerOverhead = 96
	pendingOverhead  = 80
)

func (g *cgroup) memUsage() int {
	n := groupOverhead + len(g.name) + g.pel.Len()*pendingOverhead
	g.consumers.Scan(func(c *consumer) bool {
		n += consumerOverhead + len(c.name)
		return true
	})
	return n
}

// group returns the group named name, or nil.
func (st *stream) group(name []byte) *cgroup {
	i, ok := slices.BinarySearchFunc(st.groups, b2s(name), func(g *cgroup, n string) int { return strings.Compare(g.name, n) })
	if !ok {
		return nil
	}
	return st.groups[i]
}

// addConsumer creates the consumer name in g, seen at now, unless it
// exists; it returns the consumer and whether it was created.
func (st *stream) addConsumer(g *cgroup, name []byte, now int64) (*consumer, bool) {
	if c := g.consumer(b2s(name)); c != nil {
		return c, false
	}
	c := &consumer{name: string(name), seen: now, pel: btree.NewBTreeGOptions(idLess, btree.Options{NoLocks: true})}
	g.consumers.Set(c)
	st.groupBytes += consumerOverhead + len(c.name)
	return c, true
}

// seenConsumer is Redis's streamLookupConsumer then streamCreateConsumer:
// the consumer, created if need be, seen at now, and whether it was
// created.
func (st *stream) seenConsumer(g *cgroup, name []byte, now int64) (*consumer, bool) {
	c, created := st.addConsumer(g, name, now)
	c.seen = now
	return c, created
}

// consumerSeen is seenConsumer for a command on the stream at key, which
// notifies a consumer created as Redis's streamCreateConsumer does.
func (s *Store) consumerSeen(st *stream, g *cgroup, key, name []byte, now int64) *consumer {
	c, created := st.seenConsumer(g, name, now)
	if created {
		s.notify(notifyStream, "xgroup-createconsumer", b2s(key))
	}
	return c
}

// setPending adds or replaces the pending entry p of g, moving it to
// p.consumer's list.
func (st *stream) setPending(g *cgroup, p pendingEntry) {
	old, replaced := g.pel.Set(p)
	switch {
	case !replaced:
		st.groupBytes += pendingOverhead
	case old.consumer != p.consumer:
		g.consumer(old.consumer).pel.Delete(p.id)
	}
	g.consumer(p.consumer).pel.Set(p.id)
}

// ack removes the pending entry id of g, reporting whether there was one.
func (st *stream) ack(g *cgroup, id streamID) bool {
	p, ok := g.pel.Delete(pendingEntry{id: id})
	if ok {
		g.consumer(p.consumer).pel.Delete(id)
		st.groupBytes -= pendingOverhead
	}
	return ok
}

// firstID is Redis's recorded first entry ID: the first live entry's,
// 0-0 for an empty stream.
func (st *stream) firstID() streamID {
	e, _ := st.entries.Min()
	return e.id
}

// hasTombstonesFrom is Redis's streamRangeHasTombstones from start to the
// end: whether an entry at or after start may have been deleted.
func (st *stream) hasTombstonesFrom(start streamID) bool {
	if st.length() == 0 || st.maxDeleted == (streamID{}) || st.firstID().cmp(st.maxDeleted) > 0 {
		return false
	}
	return start.cmp(st.maxDeleted) <= 0
}

// entriesBefore is Redis's streamEstimateDistanceFromFirstEverEntry: the
// count of entries ever added up to id, when the stream's counters tell
// it, else noEntriesRead.
func (st *stream) entriesBefore(id streamID) int64 {
	added := int64(st.entriesAdded)
	switch {
	case added == 0:
		return 0
	case st.length() == 0 && id.cmp(st.lastID) <= 0, id == st.lastID:
		return added
	case id.cmp(st.lastID) > 0:
		return noEntriesRead
	}
	first := st.firstID()
	if st.maxDeleted == (streamID{}) || st.maxDeleted.cmp(first) < 0 {
		switch c := id.cmp(first); {
		case c < 0:
			return added - int64(st.length())
		case c == 0:
			return added - int64(st.length()) + 1
		}
	}
	return noEntriesRead
}

// lag is how many entries g has yet to read, when known.
func (st *stream) lag(g *cgroup) (int64, bool) {
	added := int64(st.entriesAdded)
	if added == 0 {
		return 0, true
	}
	if g.entriesRead != noEntriesRead && !st.hasTombstonesFrom(g.lastID) {
		return added - g.entriesRead, true
	}
	if n := st.entriesBefore(g.lastID); n != noEntriesRead {
		return added - n, true
	}
	return 0, false
}

// delivered advances g past the entry id it delivers, counting it as
// Redis counts entries-read.
func (st *stream) delivered(g *cgroup, id streamID) {
	if id.cmp(g.lastID) <= 0 {
		return
	}
	if g.entriesRead != noEntriesRead && !st.hasTombstonesFrom(id) {
		g.entriesRead++
	} else if st.entriesAdded != 0 {
		g.entriesRead = st.entriesBefore(id)
	}
	g.lastID = id
}

// groupsChanged records a write that changed only the consumer groups of
// the stream item it (got from writable): its memory is recharged, its
// version kept (see above).
func (s *Store) groupsChanged(it item) {
	o := it.obj()
	use := o.val.memUsage()
	s.bytes += use - o.charged
	o.charged = use
}

// appendGroupErr appends one of the NOGROUP errors, with the key and the
// group as Redis prints them (C strings).
func appendGroupErr(out []byte, format string, key, group []byte) []byte {
	msg := strings.NewReplacer("%k", string(cString(key)), "%g", string(cString(group))).Replace(format)
	return appendErr(out, msg)
}

// appendSubSyntaxErr is Redis's addReplySubcommandSyntaxError.
func appendSubSyntaxErr(out []byte, args [][]byte) []byte {
	sub := cString(args[1])
	if len(sub) > 128 {
		sub = sub[:128]
	}
	return appendErr(out, "ERR unknown subcommand or wrong number of arguments for '"+string(sub)+"'. Try "+
		strings.ToUpper(string(cString(args[0])))+" HELP.")
}

// checkSub answers what Redis's processCommand answers for a container's
// unknown subcommand or a subcommand's wrong arity, or returns "".
func checkSub(name string, args [][]byte) string {
	c, _ := Lookup(args[0])
	spec, ok := c.Sub(string(args[1]))
	switch {
	case !ok:
		sub := cString(args[1])
		if len(sub) > 128 {
			sub = sub[:128]
		}
		return "ERR unknown subcommand '" + string(sub) + "'. Try " + strings.ToUpper(name) + " HELP."
	case !spec.ArityFits(len(args)):
		return "ERR wrong number of arguments for '" + spec.Name + "' command"
	}
	return ""
}

func appendHelp(out []byte, lines []string) []byte {
	out = redcon.AppendArray(out, len(lines))
	for _, h := range lines {
		out = append(out, '+')
		out = append(out, h...)
		out = append(out, '\r', '\n')
	}
	return out
}

// isDollar compares an ID argument with "$" as Redis's strcmp does.
func isDollar(a []byte) bool { c := cString(a); return len(c) == 1 && c[0] == '$' }

func xgroupCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if msg := checkSub("xgroup", args); msg != "" {
		return appendErr(out, msg)
	}
	sub := args[1]
	if eqFold(sub, "help") {
		return appendHelp(out, []string{
			"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"CREATE <key> <groupname> <id|$> [option]",
			"    Create a new consumer group. Options are:",
			"    * MKSTREAM",
			"      Create the empty stream if it does not exist.",
			"    * ENTRIESREAD entries_read",
			"      Set the group's entries_read counter (internal use).",
			"CREATECONSUMER <key> <groupname> <consumer>",
			"    Create a new consumer in the specified group.",
			"DELCONSUMER <key> <groupname> <consumer>",
			"    Remove the specified consumer.",
			"DESTROY <key> <groupname>",
			"    Remove the specified group.",
			"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
			"    Set the current group ID and entries_read counter.",
			"HELP",
			"    Prints this help.",
		})
	}
	create, setid := optIs(sub, "create"), optIs(sub, "setid")
	mkstream := false
	entriesRead := int64(noEntriesRead)
	for i := 5; i < len(args); {
		switch {
		case create && optIs(args[i], "mkstream"):
			mkstream = true
			i++
		case (create || setid) && optIs(args[i], "entriesread") && i+1 < len(args):
			var ok bool
			if entriesRead, ok = parseInt(b2s(args[i+1])); !ok {
				return appendErr(out, errNotInt)
			}
			if entriesRead < 0 && entriesRead != noEntriesRead {
				return appendErr(out, errEntriesRead)
			}
			i += 2
		default:
			return appendSubSyntaxErr(out, args)
		}
	}
	p := probe(args[2])
	it, c, found, wrong := s.getKind(m, p, kindStream)
	if wrong {
		return appendErr(out, errWrongType)
	}
	var g *cgroup
	if !mkstream {
		if !found {
			return appendErr(out, errXGroupNoKey)
		}
		if g = c.(*stream).group(args[3]); g == nil && (setid || optIs(sub, "createconsumer") || optIs(sub, "delconsumer")) {
			return appendGroupErr(out, errNoGroupName, args[2], args[3])
		}
	}
	switch {
	case create && len(args) >= 5 && len(args) <= 8:
		var id streamID
		switch {
		case isDollar(args[4]):
			if found {
				id = c.(*stream).lastID
			}
		default:
			var ok bool
			if id, _, ok = parseStreamID(args[4], 0, true, false); !ok {
				return appendErr(out, errStreamID)
			}
		}
		if found && c.(*stream).group(args[3]) != nil {
			return appendErr(out, errBusyGroup)
		}
		var st *stream
		if found {
			st = s.writable(&it).(*stream)
		} else {
			it = s.newObjItem(p, newStream())
			st = it.obj().val.(*stream)
		}
		g := newGroup(string(args[3]), id, entriesRead)
		i, _ := slices.BinarySearchFunc(st.groups, g.name, func(x *cgroup, n string) int { return strings.Compare(x.name, n) })
		st.groups = slices.Insert(st.groups, i, g)
		st.groupBytes += groupOverhead + len(g.name)
		if found {
			s.groupsChanged(it)
		} else {
			s.changed(it)
		}
		return append(out, okReply...)
	case setid && (len(args) == 5 || len(args) == 7):
		var id streamID
		if isDollar(args[4]) {
			id = c.(*stream).lastID
		} else {
			var ok bool
			if id, _, ok = parseStreamID(args[4], 0, false, false); !ok {
				return appendErr(out, errStreamID)
			}
		}
		st := s.writable(&it).(*stream)
		g = st.group(args[3])
		g.lastID, g.entriesRead = id, entriesRead
		s.groupsChanged(it)
		return append(out, okReply...)
	case optIs(sub, "destroy") && len(args) == 4:
		if g == nil {
			return append(out, zeroReply...)
		}
		st := s.writable(&it).(*stream)
		i := slices.IndexFunc(st.groups, func(x *cgroup) bool { return x.name == g.name })
		st.groupBytes -= st.groups[i].memUsage()
		st.groups = slices.Delete(st.groups, i, i+1)
		s.groupsChanged(it)
		// Its blocked readers must learn that the group is gone.
		s.readyKey(it.key())
		return append(out, oneReply...)
	case optIs(sub, "createconsumer") && len(args) == 5:
		if g.consumer(b2s(args[4])) != nil {
			return append(out, zeroReply...)
		}
		st := s.writable(&it).(*stream)
		st.addConsumer(st.group(args[3]), args[4], m.now)
		s.groupsChanged(it)
		return append(out, oneReply...)
	case optIs(sub, "delconsumer") && len(args) == 5:
		if g.consumer(b2s(args[4])) == nil {
			return append(out, zeroReply...)
		}
		st := s.writable(&it).(*stream)
		g = st.group(args[3])
		c := g.consumer(b2s(args[4]))
		n := c.pel.Len()
		c.pel.Scan(func(id streamID) bool {
			g.pel.Delete(pendingEntry{id: id})
			return true
		})
		g.consumers.Delete(c)
		st.groupBytes -= n*pendingOverhead + consumerOverhead + len(c.name)
		s.groupsChanged(it)
		s.notify(notifyStream, "xgroup-delconsumer", b2s(args[2]))
		return appendInt(out, int64(n))
	}
	return appendSubSyntaxErr(out, args)
}

// xreadgroupCmd is XREADGROUP GROUP group consumer [COUNT n] [NOACK]
// STREAMS key... id...: with ">" the entries the group has not delivered
// yet, which become pending for the consumer (unless NOACK); with an ID,
// the consumer's own pending entries after it.
func xreadgroupCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return xreadGeneric(s, m, args, out, true)
}

// serveGroup appends the XREADGROUP reply for one stream: new entries
// after the group's last delivered one when history is false, else the
// consumer's pending entries after start.
func (st *stream) serveGroup(out []byte, g *cgroup, name []byte, start streamID, count int64, noack, history bool, now int64) []byte {
	c, _ := st.seenConsumer(g, name, now)
	at := len(out)
	n := 0
	if history {
		var ids []streamID
		c.pel.Ascend(start, func(id streamID) bool {
			ids = append(ids, id)
			return count == 0 || int64(len(ids)) < count
		})
		for _, id := range ids {
			e, ok := st.entries.Get(streamEntry{id: id})
			if !ok {
				// Deleted since it was delivered: its ID with no fields.
				out = redcon.AppendArray(out, 2)
				out = appendStreamID(out, id)
				out = append(out, nullArray...)
			} else {
				out = appendEntry(out, e)
				p, _ := g.pel.Get(pendingEntry{id: id})
				p.delivered = now
				p.count++
				g.pel.Set(p)
			}
			n++
		}
		return insertArrayLen(out, at, n)
	}
	var served []streamEntry
	st.entries.Ascend(streamEntry{id: start}, func(e streamEntry) bool {
		served = append(served, e)
		return count == 0 || int64(len(served)) < count
	})
	for _, e := range served {
		st.delivered(g, e.id)
		out = appendEntry(out, e)
		if !noack {
			st.setPending(g, pendingEntry{id: e.id, consumer: c.name, delivered: now, count: 1})
		}
	}
	return insertArrayLen(out, at, len(served))
}

func xackCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found || c.(*stream).group(args[2]) == nil {
		return append(out, zeroReply...)
	}
	ids := make([]streamID, len(args)-3)
	for i, a := range args[3:] {
		var ok bool
		if ids[i], _, ok = parseStreamID(a, 0, true, false); !ok {
			return appendErr(out, errStreamID)
		}
	}
	g := c.(*stream).group(args[2])
	if !slices.ContainsFunc(ids, func(id streamID) bool { _, ok := g.pel.Get(pendingEntry{id: id}); return ok }) {
		return append(out, zeroReply...)
	}
	st := s.writable(&it).(*stream)
	g = st.group(args[2])
	n := 0
	for _, id := range ids {
		if st.ack(g, id) {
			n++
		}
	}
	s.groupsChanged(it)
	return appendInt(out, int64(n))
}

func xpendingCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) != 3 && (len(args) < 6 || len(args) > 9) {
		return appendErr(out, errSyntax)
	}
	var start, end streamID
	var count, minIdle int64
	var consumerName []byte
	if len(args) >= 6 {
		at := 3
		if optIs(args[3], "idle") {
			var ok bool
			if minIdle, ok = parseInt(b2s(args[4])); !ok {
				return appendErr(out, errNotInt)
			}
			if len(args) < 8 {
				return appendErr(out, errSyntax)
			}
			at += 2
		}
		var ok bool
		if count, ok = parseInt(b2s(args[at+2])); !ok {
			return appendErr(out, errNotInt)
		}
		count = max(count, 0)
		var excl bool
		if start, excl, ok = parseIntervalID(args[at], 0); !ok {
			return appendErr(out, errStreamID)
		}
		if excl {
			if start, ok = start.incr(); !ok {
				return appendErr(out, errRangeStart)
			}
		}
		if end, excl, ok = parseIntervalID(args[at+1], math.MaxUint64); !ok {
			return appendErr(out, errStreamID)
		}
		if excl {
			if end, ok = end.decr(); !ok {
				return appendErr(out, errRangeEnd)
			}
		}
		if at+3 < len(args) {
			consumerName = args[at+3]
		}
	}
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	if wrong {
		return appendErr(out, errWrongType)
	}
	var g *cgroup
	if found {
		g = c.(*stream).group(args[2])
	}
	if g == nil {
		return appendGroupErr(out, errNoGroupKey, args[1], args[2])
	}
	if len(args) == 3 {
		out = redcon.AppendArray(out, 4)
		out = appendInt(out, int64(g.pel.Len()))
		first, ok := g.pel.Min()
		if !ok {
			out = append(out, nullReply...)
			out = append(out, nullReply...)
			return append(out, nullArray...)
		}
		last, _ := g.pel.Max()
		out = appendStreamID(out, first.id)
		out = appendStreamID(out, last.id)
		at := len(out)
		n := 0
		g.consumers.Scan(func(c *consumer) bool {
			if c.pel.Len() > 0 {
				out = redcon.AppendArray(out, 2)
				out = appendBulk(out, c.name)
				out = appendBulk(out, strconv.Itoa(c.pel.Len()))
				n++
			}
			return true
		})
		return insertArrayLen(out, at, n)
	}
	var ids *btree.BTreeG[streamID]
	if consumerName != nil {
		c := g.consumer(b2s(consumerName))
		if c == nil {
			return append(out, emptyArray...)
		}
		ids = c.pel
	}
	at := len(out)
	n := 0
	each := func(p pendingEntry) bool {
		if count == 0 || p.id.cmp(end) > 0 {
			return false
		}
		if minIdle != 0 && m.now-p.delivered < minIdle {
			return true
		}
		count--
		n++
		out = redcon.AppendArray(out, 4)
		out = appendStreamID(out, p.id)
		out = appendBulk(out, p.consumer)
		out = appendInt(out, max(m.now-p.delivered, 0))
		out = appendInt(out, int64(p.count))
		return true
	}
	if ids == nil {
		g.pel.Ascend(pendingEntry{id: start}, each)
	} else {
		ids.Ascend(start, func(id streamID) bool {
			p, _ := g.pel.Get(pendingEntry{id: id})
			return each(p)
		})
	}
	return insertArrayLen(out, at, n)
}

func xclaimCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found || c.(*stream).group(args[2]) == nil {
		return appendGroupErr(out, errNoGroupKey, args[1], args[2])
	}
	minIdle, ok := parseInt(b2s(args[4]))
	if !ok {
		return appendErr(out, "ERR Invalid min-idle-time argument for XCLAIM")
	}
	minIdle = max(minIdle, 0)
	var ids []streamID
	j := 5
	for ; j < len(args); j++ {
		id, _, ok := parseStreamID(args[j], 0, true, false)
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	now := m.now
	retry, delivery := int64(-1), int64(-1)
	force, justID := false, false
	var lastID streamID
	for ; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := args[j]
		var ok bool
		switch {
		case optIs(opt, "force"):
			force = true
		case optIs(opt, "justid"):
			justID = true
		case optIs(opt, "idle") && more > 0:
			j++
			if delivery, ok = parseInt(b2s(args[j])); !ok {
				return appendErr(out, "ERR Invalid IDLE option argument for XCLAIM")
			}
			delivery = now - delivery
		case optIs(opt, "time") && more > 0:
			j++
			if delivery, ok = parseInt(b2s(args[j])); !ok {
				return appendErr(out, "ERR Invalid TIME option argument for XCLAIM")
			}
		case optIs(opt, "retrycount") && more > 0:
			j++
			if retry, ok = parseInt(b2s(args[j])); !ok {
				return appendErr(out, "ERR Invalid RETRYCOUNT option argument for XCLAIM")
			}
		case optIs(opt, "lastid") && more > 0:
			j++
			if lastID, _, ok = parseStreamID(args[j], 0, true, false); !ok {
				return appendErr(out, errStreamID)
			}
		default:
			return appendErr(out, "ERR Unrecognized XCLAIM option '"+string(cString(opt))+"'")
		}
	}
	// A time Redis finds bogus (a client's clock ahead, say) is now.
	if delivery < 0 || delivery > now {
		delivery = now
	}
	st := s.writable(&it).(*stream)
	g := st.group(args[2])
	if lastID.cmp(g.lastID) > 0 {
		g.lastID = lastID
	}
	var cons *consumer
	at := len(out)
	n := 0
	for _, id := range ids {
		p, pending := g.pel.Get(pendingEntry{id: id})
		e, exists := st.entries.Get(streamEntry{id: id})
		if !exists {
			if pending {
				st.ack(g, id) // the entry is gone: so is its delivery
			}
			continue
		}
		owned := pending
		if force && !pending {
			p = pendingEntry{id: id, count: 1}
			pending = true
		}
		if !pending {
			continue
		}
		if owned && minIdle != 0 && now-p.delivered < minIdle {
			continue
		}
		if cons == nil {
			cons = s.consumerSeen(st, g, args[1], args[3], now)
		}
		p.consumer = cons.name
		p.delivered = delivery
		switch {
		case retry >= 0:
			p.count = uint64(retry)
		case !justID:
			p.count++
		}
		st.setPending(g, p)
		if justID {
			out = appendStreamID(out, id)
		} else {
			out = appendEntry(out, e)
		}
		n++
	}
	s.groupsChanged(it)
	return insertArrayLen(out, at, n)
}

func xautoclaimCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	minIdle, ok := parseInt(b2s(args[4]))
	if !ok {
		return appendErr(out, "ERR Invalid min-idle-time argument for XAUTOCLAIM")
	}
	minIdle = max(minIdle, 0)
	start, excl, ok := parseIntervalID(args[5], 0)
	if !ok {
		return appendErr(out, errStreamID)
	}
	if excl {
		if start, ok = start.incr(); !ok {
			return appendErr(out, errRangeStart)
		}
	}
	count := int64(100)
	justID := false
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case optIs(args[j], "count") && more > 0:
			// Redis bounds COUNT so that its arrays of COUNT IDs fit.
			const maxCount = math.MaxInt64 / 16
			if count, ok = parseInt(b2s(args[j+1])); !ok || count < 1 || count > maxCount {
				return appendErr(out, errAutoclaimCnt)
			}
			j++
		case optIs(args[j], "justid"):
			justID = true
		default:
			return appendErr(out, errSyntax)
		}
	}
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found || c.(*stream).group(args[2]) == nil {
		return appendGroupErr(out, errNoGroupKey, args[1], args[2])
	}
	now := m.now
	st := s.writable(&it).(*stream)
	g := st.group(args[2])
	next := func(from streamID) (p pendingEntry, ok bool) {
		g.pel.Ascend(pendingEntry{id: from}, func(x pendingEntry) bool {
			p, ok = x, true
			return false
		})
		return p, ok
	}
	var cons *consumer
	var deleted []streamID
	out = redcon.AppendArray(out, 3)
	cursorAt := len(out)
	at := len(out)
	n := 0
	cur := start
	more := true
	for attempts := count * 10; attempts > 0 && count > 0; attempts-- {
		p, ok := next(cur)
		if !ok {
			more = false
			break
		}
		if id, ok := p.id.incr(); ok {
			cur = id
		} else {
			more = false // the last possible ID: nothing can follow
		}
		e, exists := st.entries.Get(streamEntry{id: p.id})
		if !exists {
			st.ack(g, p.id)
			deleted = append(deleted, p.id)
			count--
		} else if minIdle == 0 || now-p.delivered >= minIdle {
			if cons == nil {
				cons = s.consumerSeen(st, g, args[1], args[3], now)
			}
			p.consumer = cons.name
			p.delivered = now
			if !justID {
				p.count++
			}
			st.setPending(g, p)
			if justID {
				out = appendStreamID(out, p.id)
			} else {
				out = appendEntry(out, e)
			}
			n++
			count--
		}
		if !more {
			break
		}
	}
	out = insertArrayLen(out, at, n)
	// The cursor is the next pending entry, 0-0 when there is none.
	var cursor streamID
	if more {
		if p, ok := next(cur); ok {
			cursor = p.id
		}
	}
	var b [48]byte
	out = slices.Insert(out, cursorAt, appendStreamID(b[:0], cursor)...)
	out = redcon.AppendArray(out, len(deleted))
	for _, id := range deleted {
		out = appendStreamID(out, id)
	}
	s.groupsChanged(it)
	return out
}

func xinfoCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if msg := checkSub("xinfo", args); msg != "" {
		return appendErr(out, msg)
	}
	sub := args[1]
	if eqFold(sub, "help") {
		return appendHelp(out, []string{
			"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"CONSUMERS <key> <groupname>",
			"    Show consumers of <groupname>.",
			"GROUPS <key>",
			"    Show the stream consumer groups.",
			"STREAM <key> [FULL [COUNT <count>]",
			"    Show information about the stream.",
			"HELP",
			"    Prints this help.",
		})
	}
	_, c, found, wrong := s.getKind(m, probe(args[2]), kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return appendErr(out, errNoKey)
	}
	st := c.(*stream)
	switch {
	case optIs(sub, "consumers"):
		g := st.group(args[3])
		if g == nil {
			return appendGroupErr(out, errNoGroupName, args[2], args[3])
		}
		out = redcon.AppendArray(out, g.consumers.Len())
		g.consumers.Scan(func(c *consumer) bool {
			out = redcon.AppendArray(out, 6)
			out = appendBulk(out, "name")
			out = appendBulk(out, c.name)
			out = appendBulk(out, "pending")
			out = appendInt(out, int64(c.pel.Len()))
			out = appendBulk(out, "idle")
			out = appendInt(out, max(m.now-c.seen, 0))
			return true
		})
		return out
	case optIs(sub, "groups"):
		out = redcon.AppendArray(out, len(st.groups))
		for _, g := range st.groups {
			out = redcon.AppendArray(out, 12)
			out = appendBulk(out, "name")
			out = appendBulk(out, g.name)
			out = appendBulk(out, "consumers")
			out = appendInt(out, int64(g.consumers.Len()))
			out = appendBulk(out, "pending")
			out = appendInt(out, int64(g.pel.Len()))
			out = appendBulk(out, "last-delivered-id")
			out = appendStreamID(out, g.lastID)
			out = st.appendReadAndLag(out, g)
		}
		return out
	}
	return st.appendInfo(out, args)
}

// appendReadAndLag appends a group's entries-read and lag fields, nil when
// unknown.
func (st *stream) appendReadAndLag(out []byte, g *cgroup) []byte {
	out = appendBulk(out, "entries-read")
	if g.entriesRead != noEntriesRead {
		out = appendInt(out, g.entriesRead)
	} else {
		out = append(out, nullReply...)
	}
	out = appendBulk(out, "lag")
	if lag, ok := st.lag(g); ok {
		return appendInt(out, lag)
	}
	return append(out, nullReply...)
}

// appendInfo is XINFO STREAM key [FULL [COUNT n]].
func (st *stream) appendInfo(out []byte, args [][]byte) []byte {
	opts := args[3:]
	full := len(opts) > 0
	count := int64(10)
	if full {
		if len(opts) != 1 && len(opts) != 3 || !optIs(opts[0], "full") || len(opts) == 3 && !optIs(opts[1], "count") {
			return appendSubSyntaxErr(out, args)
		}
		if len(opts) == 3 {
			var ok bool
			if count, ok = parseInt(b2s(opts[2])); !ok {
				return appendErr(out, errNotInt)
			}
			if count < 0 {
				count = 10
			}
		}
	}
	n := 20
	if full {
		n = 18
	}
	out = redcon.AppendArray(out, n)
	out = appendBulk(out, "length")
	out = appendInt(out, int64(st.length()))
	out = appendBulk(out, "radix-tree-keys")
	out = appendInt(out, int64(st.nodes.Len()))
	out = appendBulk(out, "radix-tree-nodes")
	out = appendInt(out, int64(st.raxNodes()))
	out = appendBulk(out, "last-generated-id")
	out = appendStreamID(out, st.lastID)
	out = appendBulk(out, "max-deleted-entry-id")
	out = appendStreamID(out, st.maxDeleted)
	out = appendBulk(out, "entries-added")
	out = appendInt(out, int64(st.entriesAdded))
	out = appendBulk(out, "recorded-first-entry-id")
	out = appendStreamID(out, st.firstID())
	if !full {
		out = appendBulk(out, "groups")
		out = appendInt(out, int64(len(st.groups)))
		out = appendBulk(out, "first-entry")
		if e, ok := st.entries.Min(); ok {
			out = appendEntry(out, e)
		} else {
			out = append(out, nullReply...)
		}
		out = appendBulk(out, "last-entry")
		if e, ok := st.entries.Max(); ok {
			return appendEntry(out, e)
		}
		return append(out, nullReply...)
	}
	out = appendBulk(out, "entries")
	out = st.appendRange(out, streamID{}, maxStreamID, count, false)
	out = appendBulk(out, "groups")
	out = redcon.AppendArray(out, len(st.groups))
	for _, g := range st.groups {
		out = redcon.AppendArray(out, 14)
		out = appendBulk(out, "name")
		out = appendBulk(out, g.name)
		out = appendBulk(out, "last-delivered-id")
		out = appendStreamID(out, g.lastID)
		out = st.appendReadAndLag(out, g)
		out = appendBulk(out, "pel-count")
		out = appendInt(out, int64(g.pel.Len()))
		out = appendBulk(out, "pending")
		at, k := len(out), int64(0)
		g.pel.Scan(func(p pendingEntry) bool {
			if count != 0 && k == count {
				return false
			}
			out = redcon.AppendArray(out, 4)
			out = appendStreamID(out, p.id)
			out = appendBulk(out, p.consumer)
			out = appendInt(out, p.delivered)
			out = appendInt(out, int64(p.count))
			k++
			return true
		})
		out = insertArrayLen(out, at, int(k))
		out = appendBulk(out, "consumers")
		out = redcon.AppendArray(out, g.consumers.Len())
		g.consumers.Scan(func(c *consumer) bool {
			out = redcon.AppendArray(out, 8)
			out = appendBulk(out, "name")
			out = appendBulk(out, c.name)
			out = appendBulk(out, "seen-time")
			out = appendInt(out, c.seen)
			out = appendBulk(out, "pel-count")
			out = appendInt(out, int64(c.pel.Len()))
			out = appendBulk(out, "pending")
			at, k := len(out), int64(0)
			c.pel.Scan(func(id streamID) bool {
				if count != 0 && k == count {
					return false
				}
				p, _ := g.pel.Get(pendingEntry{id: id})
				out = redcon.AppendArray(out, 3)
				out = appendStreamID(out, id)
				out = appendInt(out, p.delivered)
				out = appendInt(out, int64(p.count))
				k++
				return true
			})
			out = insertArrayLen(out, at, int(k))
			return true
		})
	}
	return out
}

// raxNodes is the node count of the radix tree Redis keeps the stream's
// listpack nodes in, keyed by their first IDs as 16 big-endian bytes: a
// compressed radix tree holds one node per branching point, per child of
// one, per chain of single children and per key, however it was built.
func (st *stream) raxNodes() int {
	keys := make([][16]byte, 0, st.nodes.Len())
	st.nodes.Scan(func(n streamNode) bool {
		var k [16]byte
		binary.BigEndian.PutUint64(k[:8], n.first.ms)
		binary.BigEndian.PutUint64(k[8:], n.first.seq)
		keys = append(keys, k)
		return true
	})
	return raxCount(keys, 0)
}

// raxCount counts the nodes below, and including, the node at depth d of
// the sorted keys, which share their first d bytes.
func raxCount(keys [][16]byte, d int) int {
	if len(keys) <= 1 || d == 16 {
		if len(keys) == 1 && d < 16 {
			return 2 // a chain to the end, then the key's node
		}
		return 1
	}
	first, last := keys[0], keys[len(keys)-1]
	e := d
	for e < 16 && first[e] == last[e] {
		e++
	}
	if e > d {
		return 1 + raxCount(keys, e) // a chain to the branching point
	}
	n := 1
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j][d] == keys[i][d] {
			j++
		}
		n += raxCount(keys[i:j], d+1)
		i = j
	}
	return n
}

// encodeGroups lists each group, then its consumers, then its pending
// entries: the group as its last ID, entries-read plus one, consumer and
// pending counts then its name; a consumer as its last sight then its
// name; a pending entry as its ID, delivery time and count, and its
// consumer's position in the group's list.
func (st *stream) encodeGroups(fn func(elem []byte)) {
	var buf []byte
	for _, g := range st.groups {
		buf = binary.AppendUvarint(buf[:0], g.lastID.ms)
		buf = binary.AppendUvarint(buf, g.lastID.seq)
		buf = binary.AppendUvarint(buf, uint64(g.entriesRead+1))
		buf = binary.AppendUvarint(buf, uint64(g.consumers.Len()))
		buf = binary.AppendUvarint(buf, uint64(g.pel.Len()))
		fn(append(buf, g.name...))
		pos := make(map[string]int, g.consumers.Len())
		g.consumers.Scan(func(c *consumer) bool {
			pos[c.name] = len(pos)
			buf = binary.AppendVarint(buf[:0], c.seen)
			fn(append(buf, c.name...))
			return true
		})
		g.pel.Scan(func(p pendingEntry) bool {
			buf = binary.AppendUvarint(buf[:0], p.id.ms)
			buf = binary.AppendUvarint(buf, p.id.seq)
			buf = binary.AppendVarint(buf, p.delivered)
			buf = binary.AppendUvarint(buf, p.count)
			fn(binary.AppendUvarint(buf, uint64(pos[p.consumer])))
			return true
		})
	}
}

// loadGroups reads the n elements encodeGroups listed, checking their
// order and references.
func (st *stream) loadGroups(n int, next func() ([]byte, error)) error {
	for n > 0 {
		elem, err := next()
		if err != nil {
			return err
		}
		r := uvarintReader{b: elem}
		last := streamID{r.next(), r.next()}
		read, consumers, pending := r.next(), r.next(), r.next()
		if r.bad || read > math.MaxInt64 || consumers >= uint64(n) || pending >= uint64(n) || 1+consumers+pending > uint64(n) {
			return errBadValue
		}
		n -= int(1 + consumers + pending)
		g := newGroup(string(r.b), last, int64(read)-1)
		if len(st.groups) > 0 && st.groups[len(st.groups)-1].name >= g.name {
			return errBadValue
		}
		names := make([]string, consumers)
		for i := range names {
			if elem, err = next(); err != nil {
				return err
			}
			seen, k := binary.Varint(elem)
			if k <= 0 || i > 0 && string(elem[k:]) <= names[i-1] {
				return errBadValue
			}
			names[i] = string(elem[k:])
			c, _ := st.addConsumer(g, elem[k:], seen)
			c.seen = seen
		}
		var prev streamID
		for i := uint64(0); i < pending; i++ {
			if elem, err = next(); err != nil {
				return err
			}
			r = uvarintReader{b: elem}
			p := pendingEntry{id: streamID{r.next(), r.next()}}
			d, k := binary.Varint(r.b)
			if k <= 0 {
				return errBadValue
			}
			r.b = r.b[k:]
			p.delivered, p.count = d, r.next()
			who := r.next()
			if r.bad || len(r.b) != 0 || who >= consumers || i > 0 && p.id.cmp(prev) <= 0 {
				return errBadValue
			}
			p.consumer = names[who]
			prev = p.id
			st.setPending(g, p)
		}
		st.groups = append(st.groups, g)
		st.groupBytes += groupOverhead + len(g.name)
	}
	return nil
}
