package store

import (
	"bytes"
	"strings"
)

// Keyspace notifications (notify-keyspace-events). The store records the
// events of each command while it applies, on every replica alike, and
// hands them with the entry's Changes to the front end, which publishes
// them to this node's subscribers. The setting is one of the replicated
// settings (encodings.go): the events an entry yields are decided by the
// log, not by each node's own configuration.

// The event classes, as Redis's NOTIFY_* bits.
const (
	notifyKeyspace = 1 << iota
	notifyKeyevent
	notifyGeneric
	notifyString
	notifyList
	notifySet
	notifyHash
	notifyZset
	notifyExpired
	notifyEvicted
	notifyStream
	notifyKeyMiss
	notifyModule
	notifyNew

	notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash | notifyZset |
		notifyExpired | notifyEvicted | notifyStream | notifyModule
	notifyMask = notifyAll | notifyKeyspace | notifyKeyevent | notifyKeyMiss | notifyNew
)

// notifyLetters are the class letters in the order Redis prints them.
var notifyLetters = []struct {
	c    byte
	flag int64
}{{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet}, {'h', notifyHash},
	{'z', notifyZset}, {'x', notifyExpired}, {'e', notifyEvicted}, {'t', notifyStream}, {'d', notifyModule},
	{'n', notifyNew}}

// parseNotifyFlags reads a notify-keyspace-events value as Redis's
// keyspaceEventsStringToFlags.
func parseNotifyFlags(v string) (int64, bool) {
	var f int64
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case 'A':
			f |= notifyAll
		case 'K':
			f |= notifyKeyspace
		case 'E':
			f |= notifyKeyevent
		case 'm':
			f |= notifyKeyMiss
		default:
			j := 0
			for j < len(notifyLetters) && notifyLetters[j].c != c {
				j++
			}
			if j == len(notifyLetters) {
				return 0, false
			}
			f |= notifyLetters[j].flag
		}
	}
	return f, true
}

// formatNotifyFlags is Redis's keyspaceEventsFlagsToString, including its
// quirk that "A" hides "n".
func formatNotifyFlags(f int64) string {
	var b []byte
	if f&notifyAll == notifyAll {
		b = append(b, 'A')
	} else {
		for _, l := range notifyLetters {
			if f&l.flag != 0 {
				b = append(b, l.c)
			}
		}
	}
	if f&notifyKeyspace != 0 {
		b = append(b, 'K')
	}
	if f&notifyKeyevent != 0 {
		b = append(b, 'E')
	}
	if f&notifyKeyMiss != 0 {
		b = append(b, 'm')
	}
	return string(b)
}

// Event is one keyspace notification: the event's name and its key. The
// front end publishes it to __keyspace@0__:<Key> and
// __keyevent@0__:<Name>, as the flags Keyspace and Keyevent ask.
type Event struct {
	Name, Key string
	// DB is the database of Key.
	DB                 int
	Keyspace, Keyevent bool
}

// touch is what a command did to a key, in put and remove order, for the
// events computed after it (notifyCommand).
type touch struct {
	key string
	op  touchOp
}

type touchOp uint8

const (
	touchNew touchOp = iota + 1
	touchWrite
	touchRemove
)

// notifying reports whether any event can be published (a channel kind
// and a class of events are on): the check that keeps notifications free
// when they are off.
func (s *Store) notifying() bool {
	f := s.enc[encNotify]
	return f&(notifyKeyspace|notifyKeyevent) != 0 && f&^(notifyKeyspace|notifyKeyevent|notifyKeyMiss) != 0
}

// notify records an event of class on key, if the setting asks for it.
func (s *Store) notify(class int64, name, key string) {
	f := s.enc[encNotify]
	if f&class == 0 || f&(notifyKeyspace|notifyKeyevent) == 0 {
		return
	}
	s.events = append(s.events, Event{Name: name, Key: strings.Clone(key), DB: s.db,
		Keyspace: f&notifyKeyspace != 0, Keyevent: f&notifyKeyevent != 0})
}

// touched records what the running command did to key.
func (s *Store) touched(key string, op touchOp) {
	if s.notifying() {
		s.touches = append(s.touches, touch{key, op})
	}
}

// expiredKey records the deletion of key past its deadline.
func (s *Store) expiredKey(key string) {
	if s.notifying() {
		if n := len(s.touches); n > 0 && s.touches[n-1].op == touchRemove && s.touches[n-1].key == key {
			s.touches = s.touches[:n-1]
		}
		s.notify(notifyExpired, "expired", key)
	}
}

// evictedKey records the eviction of key (OpEvict).
func (s *Store) evictedKey(key string) {
	if s.notifying() {
		s.touches = s.touches[:0]
		s.notify(notifyEvicted, "evicted", key)
	}
}

// keyFate is what a command did to one key overall.
type keyFate struct {
	key     string
	created bool // the key did not exist before the command
	removed bool // the key does not exist after it
}

// fates folds the touches from index from into one fate per key, in the
// order the keys were first touched.
func (s *Store) fates(from int) []keyFate {
	var out []keyFate
	for _, t := range s.touches[from:] {
		i := 0
		for i < len(out) && out[i].key != t.key {
			i++
		}
		if i == len(out) {
			out = append(out, keyFate{key: t.key, created: t.op == touchNew})
		}
		out[i].removed = t.op == touchRemove
	}
	return out
}

// notifyCommand records the events of the command args that just ran
// (reply is its reply), from what it touched since touches[from].
func (s *Store) notifyCommand(args [][]byte, reply []byte, from int) {
	defer func() { s.touches = s.touches[:from] }()
	if len(reply) > 0 && reply[0] == '-' {
		return
	}
	name := strings.ToLower(b2s(args[0]))
	sp, ok := notifySpecs[name]
	if !ok {
		return
	}
	fates := s.fates(from)
	if sp.custom != nil {
		sp.custom(s, args, reply, fates)
		return
	}
	event := sp.event
	if sp.pick != nil {
		event = sp.pick(args)
	}
	for _, f := range fates {
		s.fateEvents(f, sp.class, event, sp.delOnly)
	}
}

// fateEvents records the events of a key the command wrote or deleted:
// "new" for a key it created, then its own event; a container it emptied
// then yields "del", a command that only deletes (delOnly) just "del".
func (s *Store) fateEvents(f keyFate, class int64, event string, delOnly bool) {
	switch {
	case f.removed && f.created:
	case f.removed && delOnly:
		s.notify(notifyGeneric, "del", f.key)
	case f.removed:
		s.notify(class, event, f.key)
		s.notify(notifyGeneric, "del", f.key)
	default:
		if f.created {
			s.notify(notifyNew, "new", f.key)
		}
		s.notify(class, event, f.key)
	}
}

// fateOf finds key's fate; ok is false when the command left it alone.
func fateOf(fates []keyFate, key []byte) (keyFate, bool) {
	for _, f := range fates {
		if f.key == b2s(key) {
			return f, true
		}
	}
	return keyFate{}, false
}

// notifySpec is how a command's events follow from what it did: event of
// class on each key it wrote (pick chooses the event by the arguments),
// or custom for the commands whose events do not follow that pattern.
type notifySpec struct {
	event   string
	class   int64
	delOnly bool
	pick    func(args [][]byte) string
	custom  func(s *Store, args [][]byte, reply []byte, fates []keyFate)
}

// hasArg reports whether any argument after the first equals word,
// ignoring case.
func hasArg(args [][]byte, word string) bool {
	for _, a := range args[1:] {
		if strings.EqualFold(b2s(a), word) {
			return true
		}
	}
	return false
}

func pickBy(word, yes, no string) func(args [][]byte) string {
	return func(args [][]byte) string {
		if hasArg(args, word) {
			return yes
		}
		return no
	}
}

// notifySpecs are the commands' events, as Redis 7.0's
// notifyKeyspaceEvent calls name them.
var notifySpecs = map[string]notifySpec{
	"set":               {custom: notifySetCmd},
	"setex":             {custom: notifySetCmd},
	"psetex":            {custom: notifySetCmd},
	"setnx":             {event: "set", class: notifyString},
	"getset":            {event: "set", class: notifyString},
	"mset":              {custom: notifyMset},
	"msetnx":            {custom: notifyMset},
	"append":            {event: "append", class: notifyString},
	"incr":              {event: "incrby", class: notifyString},
	"incrby":            {event: "incrby", class: notifyString},
	"decr":              {event: "incrby", class: notifyString},
	"decrby":            {event: "incrby", class: notifyString},
	"incrbyfloat":       {event: "incrbyfloat", class: notifyString},
	"setrange":          {event: "setrange", class: notifyString},
	"setbit":            {event: "setbit", class: notifyString},
	"bitfield":          {event: "setbit", class: notifyString},
	"bitop":             {event: "set", class: notifyString, delOnly: true},
	"getdel":            {event: "del", class: notifyGeneric, delOnly: true},
	"getex":             {custom: notifyGetex},
	"pfadd":             {event: "pfadd", class: notifyString},
	"pfmerge":           {event: "pfadd", class: notifyString},
	"lpush":             {event: "lpush", class: notifyList},
	"lpushx":            {event: "lpush", class: notifyList},
	"rpush":             {event: "rpush", class: notifyList},
	"rpushx":            {event: "rpush", class: notifyList},
	"linsert":           {event: "linsert", class: notifyList},
	"lset":              {event: "lset", class: notifyList},
	"lrem":              {event: "lrem", class: notifyList},
	"ltrim":             {event: "ltrim", class: notifyList},
	"lpop":              {event: "lpop", class: notifyList},
	"blpop":             {event: "lpop", class: notifyList},
	"rpop":              {event: "rpop", class: notifyList},
	"brpop":             {event: "rpop", class: notifyList},
	"lmpop":             {class: notifyList, pick: pickBy("left", "lpop", "rpop")},
	"blmpop":            {class: notifyList, pick: pickBy("left", "lpop", "rpop")},
	"lmove":             {custom: notifyMove},
	"blmove":            {custom: notifyMove},
	"rpoplpush":         {custom: notifyMove},
	"brpoplpush":        {custom: notifyMove},
	"hset":              {event: "hset", class: notifyHash},
	"hmset":             {event: "hset", class: notifyHash},
	"hsetnx":            {event: "hset", class: notifyHash},
	"hincrby":           {event: "hincrby", class: notifyHash},
	"hincrbyfloat":      {event: "hincrbyfloat", class: notifyHash},
	"hdel":              {event: "hdel", class: notifyHash},
	"sadd":              {event: "sadd", class: notifySet},
	"srem":              {event: "srem", class: notifySet},
	"spop":              {event: "spop", class: notifySet},
	"smove":             {custom: notifySmove},
	"sinterstore":       {event: "sinterstore", class: notifySet, delOnly: true},
	"sunionstore":       {event: "sunionstore", class: notifySet, delOnly: true},
	"sdiffstore":        {event: "sdiffstore", class: notifySet, delOnly: true},
	"zadd":              {class: notifyZset, pick: pickBy("incr", "zincr", "zadd")},
	"zincrby":           {event: "zincr", class: notifyZset},
	"zrem":              {event: "zrem", class: notifyZset},
	"zremrangebyscore":  {event: "zremrangebyscore", class: notifyZset},
	"zremrangebyrank":   {event: "zremrangebyrank", class: notifyZset},
	"zremrangebylex":    {event: "zremrangebylex", class: notifyZset},
	"zpopmin":           {event: "zpopmin", class: notifyZset},
	"bzpopmin":          {event: "zpopmin", class: notifyZset},
	"zpopmax":           {event: "zpopmax", class: notifyZset},
	"bzpopmax":          {event: "zpopmax", class: notifyZset},
	"zmpop":             {class: notifyZset, pick: pickBy("min", "zpopmin", "zpopmax")},
	"bzmpop":            {class: notifyZset, pick: pickBy("min", "zpopmin", "zpopmax")},
	"zunionstore":       {event: "zunionstore", class: notifyZset, delOnly: true},
	"zinterstore":       {event: "zinterstore", class: notifyZset, delOnly: true},
	"zdiffstore":        {event: "zdiffstore", class: notifyZset, delOnly: true},
	"zrangestore":       {event: "zrangestore", class: notifyZset, delOnly: true},
	"geoadd":            {event: "zadd", class: notifyZset},
	"georadius":         {event: "georadiusstore", class: notifyZset, delOnly: true},
	"georadiusbymember": {event: "georadiusstore", class: notifyZset, delOnly: true},
	"geosearchstore":    {event: "geosearchstore", class: notifyZset, delOnly: true},
	"sort":              {event: "sortstore", class: notifyList, delOnly: true},
	"del":               {event: "del", class: notifyGeneric, delOnly: true},
	"unlink":            {event: "del", class: notifyGeneric, delOnly: true},
	"expire":            {event: "expire", class: notifyGeneric, delOnly: true},
	"pexpire":           {event: "expire", class: notifyGeneric, delOnly: true},
	"expireat":          {event: "expire", class: notifyGeneric, delOnly: true},
	"pexpireat":         {event: "expire", class: notifyGeneric, delOnly: true},
	"persist":           {event: "persist", class: notifyGeneric},
	"rename":            {custom: notifyRename},
	"renamenx":          {custom: notifyRename},
	"copy":              {custom: notifyCopy},
	"restore":           {custom: notifyRestore},
	"xadd":              {custom: notifyXadd},
	"xtrim":             {event: "xtrim", class: notifyStream},
	"xdel":              {event: "xdel", class: notifyStream},
	"xsetid":            {event: "xsetid", class: notifyStream},
	"xgroup":            {custom: notifyXgroup},
}

// notifySetCmd: "set", then "expire" when the command gave a TTL. A
// deadline already past deletes the key at once (the expiry departure,
// doc.go), which Redis does at the key's next access: "expired" follows.
func notifySetCmd(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	f, ok := fateOf(fates, args[1])
	if !ok {
		return
	}
	gone := f.removed
	f.removed = false
	s.fateEvents(f, notifyString, "set", false)
	cmd := strings.ToLower(b2s(args[0]))
	if cmd != "set" || hasArg(args[2:], "ex") || hasArg(args[2:], "px") || hasArg(args[2:], "exat") || hasArg(args[2:], "pxat") {
		s.notify(notifyGeneric, "expire", f.key)
	}
	if gone {
		s.notify(notifyExpired, "expired", f.key)
	}
}

// notifyGetex: "expire" or "persist", or "del" for a TTL already past.
func notifyGetex(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	f, ok := fateOf(fates, args[1])
	switch {
	case !ok:
	case f.removed:
		s.notify(notifyGeneric, "del", f.key)
	case hasArg(args[1:], "persist"):
		s.notify(notifyGeneric, "persist", f.key)
	default:
		s.notify(notifyGeneric, "expire", f.key)
	}
}

// notifyMset: "set" for each pair, a key given twice notified twice.
func notifyMset(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	if string(reply) == ":0\r\n" {
		return
	}
	for i := 1; i+1 < len(args); i += 2 {
		f, _ := fateOf(fates, args[i])
		f.key = string(args[i])
		s.fateEvents(f, notifyString, "set", false)
		for j := range fates {
			if fates[j].key == f.key {
				fates[j].created = false
			}
		}
	}
}

// notifyMove: the push on the destination, then the pop on the source
// and its "del" when emptied, in Redis's lmoveGenericCommand order.
func notifyMove(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	sf, moved := fateOf(fates, args[1])
	if !moved {
		return
	}
	from, to := "rpop", "lpush"
	if c := strings.ToLower(b2s(args[0])); c == "lmove" || c == "blmove" {
		from = strings.ToLower(b2s(args[3]))[:1] + "pop"
		to = strings.ToLower(b2s(args[4]))[:1] + "push"
	}
	src := string(args[1])
	dst := string(args[2])
	df, ok := fateOf(fates, args[2])
	if !ok || df.removed {
		df = keyFate{key: dst}
	}
	s.fateEvents(df, notifyList, to, false)
	s.notify(notifyList, from, src)
	if sf.removed {
		s.notify(notifyGeneric, "del", src)
	}
}

// notifySmove: "srem" on the source (and "del"), then "sadd" on the
// destination.
func notifySmove(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	if string(reply) != ":1\r\n" || bytes.Equal(args[1], args[2]) {
		return
	}
	sf, _ := fateOf(fates, args[1])
	sf.key = string(args[1])
	s.fateEvents(sf, notifySet, "srem", false)
	df, ok := fateOf(fates, args[2])
	if !ok {
		df = keyFate{key: string(args[2])}
	}
	s.fateEvents(df, notifySet, "sadd", false)
}

// notifyRename: Redis adds the destination anew ("new"), then names both
// keys.
func notifyRename(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	if string(reply) == ":0\r\n" || bytes.Equal(args[1], args[2]) {
		return
	}
	s.notify(notifyNew, "new", string(args[2]))
	s.notify(notifyGeneric, "rename_from", string(args[1]))
	s.notify(notifyGeneric, "rename_to", string(args[2]))
}

func notifyCopy(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	if string(reply) != ":1\r\n" {
		return
	}
	if db, ok := copyTarget(s, args); ok {
		defer s.selectDB(s.db)
		s.selectDB(db)
	}
	s.notify(notifyNew, "new", string(args[2]))
	s.notify(notifyGeneric, "copy_to", string(args[2]))
}

func notifyRestore(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	if f, ok := fateOf(fates, args[1]); ok && !f.removed {
		s.notify(notifyNew, "new", f.key)
		s.notify(notifyGeneric, "restore", f.key)
	}
}

// notifyXadd: "xadd", then "xtrim" when its trimming removed entries.
func notifyXadd(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	trimmed := s.xaddTrimmed
	s.xaddTrimmed = false
	for _, f := range fates {
		s.fateEvents(f, notifyStream, "xadd", false)
		if trimmed {
			s.notify(notifyStream, "xtrim", f.key)
		}
	}
}

// notifyXgroup: each subcommand's event when it changed something.
func notifyXgroup(s *Store, args [][]byte, reply []byte, fates []keyFate) {
	if len(args) < 3 {
		return
	}
	sub := strings.ToLower(b2s(args[1]))
	switch {
	case sub == "create" || sub == "setid":
	case sub == "destroy" || sub == "createconsumer":
		if string(reply) != ":1\r\n" {
			return
		}
	default:
		// DELCONSUMER notifies in xgroupCmd, only when the consumer was
		// there, which its reply does not tell.
		return
	}
	key := string(args[2])
	if f, ok := fateOf(fates, args[2]); ok && f.created {
		s.notify(notifyNew, "new", key)
	}
	s.notify(notifyStream, "xgroup-"+sub, key)
}
