package resp

// Client-side caching, as Redis 7.0's CLIENT TRACKING: a tracking
// connection's reads remember their keys (or, in BCAST mode, it names
// prefixes), and when an applied entry changes such a key the connection
// (or the one it redirects to) gets an invalidation. Changes come from the
// replica's change feed, so every node invalidates for the clients it
// serves, followers answering READONLY reads included, whichever node's
// client made the change. FLUSHALL (and a snapshot installed in place of
// the keyspace) invalidates everything with a null.
//
// As Redis, the invalidations a command of the tracking connection itself
// causes come after its reply, and NOLOOP leaves out the keys the
// connection itself wrote: while a connection's commands run, the keys its
// writes name are "its own", and the invalidations due to it wait until
// the replies are written. A write of another client to one of those keys
// in that window is taken for its own: with NOLOOP it gets no
// invalidation for that change, which its own write replaced anyway.
//
// A key read on a node whose clock has passed its TTL is hidden, not
// deleted (store/doc.go): its invalidation comes when the leader's active
// expiry deletes it through the log.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/store"
)

// trackingChannel is where a RESP2 connection that others redirect to
// gets invalidations, as Pub/Sub messages.
const trackingChannel = "__redis__:invalidate"

// defaultTrackingMaxKeys is tracking-table-max-keys' default.
const defaultTrackingMaxKeys = 1_000_000

// tracker is one connection's tracking state; the registry's mutex
// guards it.
type tracker struct {
	c        *client
	on       bool
	bcast    bool
	optin    bool
	optout   bool
	noloop   bool
	redirect int64
	prefixes []string
	// brokenRedirect is set once the connection redirected to is gone.
	brokenRedirect bool
	// busy counts the connection's commands running; own are the keys
	// their writes name, deferred the invalidations waiting for their
	// replies (nil keys: all keys).
	busy     int
	own      map[string]bool
	flushes  bool
	deferred [][]string
}

type trackingRegistry struct {
	mu sync.Mutex
	// tracking counts the connections with tracking on, so that the
	// applier takes the lock only when there are some.
	tracking atomic.Int64
	maxKeys  atomic.Int64
	// keys holds, per key read by connections in the default mode, the
	// ids of those connections.
	keys     map[string]map[int64]struct{}
	prefixes map[string]map[int64]struct{}
	trackers map[int64]*tracker
	// deliver writes a pushed invalidation to the connection with the id
	// (subscribed to trackingChannel or in RESP3); it reports false when
	// there is no such connection. redirBroken tells connection id that
	// the one it redirects to is gone.
	deliver     func(id int64, redirected bool, keys []string, all bool) bool
	redirBroken func(id, redirect int64)
}

func newTrackingRegistry() *trackingRegistry {
	r := &trackingRegistry{keys: map[string]map[int64]struct{}{}, prefixes: map[string]map[int64]struct{}{},
		trackers: map[int64]*tracker{}}
	r.maxKeys.Store(defaultTrackingMaxKeys)
	return r
}

// trackingOptions are CLIENT TRACKING's arguments.
type trackingOptions struct {
	on, bcast, optin, optout, noloop bool
	redirect                         int64
	prefixes                         []string
}

// parseTracking reads CLIENT TRACKING ON|OFF and its options, returning
// Redis's error for bad ones; exists says whether a client id is
// connected.
func parseTracking(args [][]byte, exists func(int64) bool) (trackingOptions, string) {
	var o trackingOptions
	for j := 3; j < len(args); j++ {
		more := len(args) - 1 - j
		switch opt := strings.ToLower(string(args[j])); {
		case opt == "redirect" && more > 0:
			j++
			if o.redirect != 0 {
				return o, "ERR A client can only redirect to a single other client"
			}
			id, err := strconv.ParseInt(string(args[j]), 10, 64)
			if err != nil {
				return o, errNotInteger
			}
			if !exists(id) {
				return o, "ERR The client ID you want redirect to does not exist"
			}
			o.redirect = id
		case opt == "bcast":
			o.bcast = true
		case opt == "optin":
			o.optin = true
		case opt == "optout":
			o.optout = true
		case opt == "noloop":
			o.noloop = true
		case opt == "prefix" && more > 0:
			j++
			o.prefixes = append(o.prefixes, string(args[j]))
		default:
			return o, errSyntax
		}
	}
	switch strings.ToLower(string(args[2])) {
	case "on":
		o.on = true
	case "off":
	default:
		return o, errSyntax
	}
	return o, ""
}

// enable turns tracking on for c with options o, or returns Redis's
// refusal of options that conflict with each other or its current mode.
func (r *trackingRegistry) enable(c *client, o trackingOptions) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trackers[c.id]
	switch {
	case !o.bcast && len(o.prefixes) > 0:
		return "ERR PREFIX option requires BCAST mode to be enabled"
	case t != nil && t.on && t.bcast != o.bcast:
		return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
	case o.bcast && (o.optin || o.optout):
		return "ERR OPTIN and OPTOUT are not compatible with BCAST"
	case o.optin && o.optout:
		return "ERR You can't specify both OPTIN mode and OPTOUT mode"
	case t != nil && t.on && (o.optin && t.optout || o.optout && t.optin):
		return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
	}
	if t == nil {
		t = &tracker{c: c}
		r.trackers[c.id] = t
	}
	if o.bcast {
		if msg := prefixCollision(t.prefixes, o.prefixes); msg != "" {
			return msg
		}
		if len(o.prefixes) == 0 {
			o.prefixes = []string{""}
		}
		for _, p := range o.prefixes {
			if slices.Contains(t.prefixes, p) {
				continue
			}
			t.prefixes = append(t.prefixes, p)
			ids := r.prefixes[p]
			if ids == nil {
				ids = map[int64]struct{}{}
				r.prefixes[p] = ids
			}
			ids[c.id] = struct{}{}
		}
		slices.Sort(t.prefixes)
	}
	if !t.on {
		r.tracking.Add(1)
	}
	t.on, t.bcast, t.optin, t.optout, t.noloop, t.redirect = true, o.bcast, o.optin, o.optout, o.noloop, o.redirect
	t.brokenRedirect = false
	return ""
}

// prefixCollision is Redis's error for a new prefix that is a prefix of
// another (or has one as its prefix), or "".
func prefixCollision(existing, added []string) string {
	overlap := func(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
	for i, p := range added {
		for _, e := range existing {
			if overlap(p, e) {
				return fmt.Sprintf("ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for a single client must not overlap.", p, e)
			}
		}
		for _, q := range added[i+1:] {
			if overlap(p, q) {
				return fmt.Sprintf("ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes for a single client must not overlap.", p, q)
			}
		}
	}
	return ""
}

// disable turns tracking off for the connection with this id; the keys it
// read stay in the table, skipped when they change, as in Redis.
func (r *trackingRegistry) disable(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trackers[id]
	if t == nil || !t.on {
		return
	}
	for _, p := range t.prefixes {
		delete(r.prefixes[p], id)
		if len(r.prefixes[p]) == 0 {
			delete(r.prefixes, p)
		}
	}
	t.on, t.bcast, t.optin, t.optout, t.noloop, t.redirect, t.prefixes = false, false, false, false, false, 0, nil
	t.brokenRedirect = false
	if r.tracking.Add(-1) == 0 {
		// Nobody left to tell: the keys read before need no tracking.
		clear(r.keys)
	}
}

// forget drops a closed connection.
func (r *trackingRegistry) forget(id int64) {
	r.disable(id)
	r.mu.Lock()
	delete(r.trackers, id)
	r.mu.Unlock()
}

// info is CLIENT TRACKINGINFO's and GETREDIR's view of a connection.
func (r *trackingRegistry) info(id int64, caching bool) (flags []string, redirect int64, prefixes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trackers[id]
	if t == nil || !t.on {
		return []string{"off"}, -1, nil
	}
	flags = []string{"on"}
	if t.bcast {
		flags = append(flags, "bcast")
	}
	if t.optin {
		flags = append(flags, "optin")
		if caching {
			flags = append(flags, "caching-yes")
		}
	}
	if t.optout {
		flags = append(flags, "optout")
		if caching {
			flags = append(flags, "caching-no")
		}
	}
	if t.noloop {
		flags = append(flags, "noloop")
	}
	if t.brokenRedirect {
		flags = append(flags, "broken_redirect")
	}
	return flags, t.redirect, slices.Clone(t.prefixes)
}

// remember records the keys a read of connection id fetched, when it
// tracks them: in the default mode, and in OPTIN mode only after CLIENT
// CACHING yes, in OPTOUT mode unless after CLIENT CACHING no.
func (r *trackingRegistry) remember(id int64, caching bool, keys [][]byte) {
	if r.tracking.Load() == 0 || len(keys) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trackers[id]
	if t == nil || !t.on || t.bcast || t.optin && !caching || t.optout && caching {
		return
	}
	for _, k := range keys {
		ids := r.keys[string(k)]
		if ids == nil {
			ids = map[int64]struct{}{}
			r.keys[string(k)] = ids
		}
		ids[id] = struct{}{}
	}
	r.enforceLimit()
}

// enforceLimit drops keys from the table while it holds more than
// tracking-table-max-keys, telling their readers, as Redis does, so that
// none caches a key no longer tracked. The mutex is held.
func (r *trackingRegistry) enforceLimit() {
	for max := r.maxKeys.Load(); max > 0 && int64(len(r.keys)) > max; {
		for k := range r.keys {
			r.invalidateKey(k)
			break
		}
	}
}

// setMaxKeys is CONFIG SET tracking-table-max-keys.
func (r *trackingRegistry) setMaxKeys(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxKeys.Store(n)
	r.enforceLimit()
}

// stats are INFO's tracking_total_keys, _items and _prefixes.
func (r *trackingRegistry) stats() (keys, items, prefixes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ids := range r.keys {
		items += len(ids)
	}
	return len(r.keys), items, len(r.prefixes)
}

// begin marks a run of connection id's commands, whose writes name keys;
// end sends the invalidations that waited for their replies.
func (r *trackingRegistry) begin(id int64, keys [][]byte, flushes bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trackers[id]
	if t == nil {
		return
	}
	t.busy++
	t.flushes = t.flushes || flushes
	if len(keys) > 0 && t.own == nil {
		t.own = map[string]bool{}
	}
	for _, k := range keys {
		t.own[string(k)] = true
	}
}

func (r *trackingRegistry) end(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trackers[id]
	if t == nil || t.busy == 0 {
		return
	}
	if t.busy--; t.busy > 0 {
		return
	}
	t.own, t.flushes = nil, false
	deferred := t.deferred
	t.deferred = nil
	for _, keys := range deferred {
		r.send(t, keys, keys == nil)
	}
}

// changed sends the invalidations an applied entry's changes cause. It
// runs on the replica's applier, between entries.
func (r *trackingRegistry) changed(ch store.Changes) {
	if r.tracking.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch.All {
		clear(r.keys)
		for _, t := range r.trackers {
			if t.on {
				r.sendOrDefer(t, nil)
			}
		}
		return
	}
	for _, k := range ch.Keys {
		r.invalidateKey(k)
	}
	if len(r.prefixes) > 0 {
		r.broadcast(ch.Keys)
	}
}

// invalidateKey tells the default-mode readers of key that it changed
// and forgets them.
func (r *trackingRegistry) invalidateKey(key string) {
	ids, ok := r.keys[key]
	if !ok {
		return
	}
	delete(r.keys, key)
	for id := range ids {
		t := r.trackers[id]
		if t == nil || !t.on || t.bcast || t.noloop && t.own[key] {
			continue
		}
		r.sendOrDefer(t, []string{key})
	}
}

// broadcast sends BCAST connections the changed keys under each of their
// prefixes, one message per prefix.
func (r *trackingRegistry) broadcast(changed []string) {
	for _, p := range slices.Sorted(maps.Keys(r.prefixes)) {
		var keys []string
		for _, k := range changed {
			if strings.HasPrefix(k, p) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		for id := range r.prefixes[p] {
			t := r.trackers[id]
			sent := keys
			if t.noloop && len(t.own) > 0 {
				sent = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return t.own[k] })
			}
			if len(sent) > 0 {
				r.sendOrDefer(t, slices.Clone(sent))
			}
		}
	}
}

// sendOrDefer sends an invalidation (nil keys: all), or, when the
// connection receives it itself and its running commands write one of the
// keys (or flush), keeps it until their replies are written. Other
// changes meanwhile (another client's, an eviction) are sent at once, as
// Redis sends what does not come from the command it runs.
func (r *trackingRegistry) sendOrDefer(t *tracker, keys []string) {
	if t.busy > 0 && t.redirect == 0 && (keys == nil && t.flushes || slices.ContainsFunc(keys, func(k string) bool { return t.own[k] })) {
		t.deferred = append(t.deferred, keys)
		return
	}
	r.send(t, keys, keys == nil)
}

func (r *trackingRegistry) send(t *tracker, keys []string, all bool) {
	if t.redirect == 0 {
		r.deliver(t.c.id, false, keys, all)
		return
	}
	if !r.deliver(t.redirect, true, keys, all) {
		t.brokenRedirect = true
		r.redirBroken(t.c.id, t.redirect)
	}
}

// redirectBroken pushes tracking-redir-broken to connection id if it
// speaks RESP3, as Redis (RESP2 has no way to say it).
func (s *Server) redirectBroken(id, redirect int64) {
	s.clientsMu.Lock()
	c, ok := s.clients[id]
	var sub *subscriber
	if ok && c.resp3 {
		sub = c.sub
	}
	s.clientsMu.Unlock()
	if sub != nil {
		msg := redcon.AppendArray(nil, 2)
		msg = redcon.AppendBulkString(msg, "tracking-redir-broken")
		sub.push(redcon.AppendInt(msg, redirect))
	}
}

// deliverInvalidation writes an invalidation to connection id: a push in
// RESP3, a message of trackingChannel to a RESP2 connection others
// redirect to if it is subscribed, else nothing, as Redis. It reports
// whether the connection exists.
func (s *Server) deliverInvalidation(id int64, redirected bool, keys []string, all bool) bool {
	s.clientsMu.Lock()
	c, ok := s.clients[id]
	var sub *subscriber
	var resp3, subscribed bool
	if ok {
		sub, resp3, subscribed = c.sub, c.resp3, c.subscribed()
	}
	s.clientsMu.Unlock()
	if !ok || sub == nil {
		return ok
	}
	var msg []byte
	switch {
	case resp3:
		msg = redcon.AppendArray(msg, 2)
		msg = redcon.AppendBulkString(msg, "invalidate")
	case redirected && subscribed:
		msg = redcon.AppendArray(msg, 3)
		msg = redcon.AppendBulkString(msg, "message")
		msg = redcon.AppendBulkString(msg, trackingChannel)
	default:
		return true
	}
	if all {
		msg = redcon.AppendNull(msg)
	} else {
		msg = redcon.AppendArray(msg, len(keys))
		for _, k := range keys {
			msg = redcon.AppendBulkString(msg, k)
		}
	}
	sub.push(msg)
	return true
}

// cmdTracking is CLIENT TRACKING.
func (s *Server) cmdTracking(conn redcon.Conn, c *client, args [][]byte) {
	o, msg := parseTracking(args, func(id int64) bool {
		s.clientsMu.Lock()
		defer s.clientsMu.Unlock()
		_, ok := s.clients[id]
		return ok
	})
	if msg == "" && o.on {
		msg = s.tracking.enable(c, o)
	}
	if msg != "" {
		conn.WriteError(msg)
		return
	}
	if o.redirect != 0 {
		s.clientsMu.Lock()
		if target, ok := s.clients[o.redirect]; ok {
			target.wantsOutbox.Store(true)
		}
		s.clientsMu.Unlock()
	}
	if !o.on {
		s.tracking.disable(c.id)
	}
	s.setClient(c, func(c *client) { c.tracked = o.on })
	conn.WriteString("OK")
}

// cmdCaching is CLIENT CACHING YES|NO: it decides for the connection's
// next command.
func (s *Server) cmdCaching(conn redcon.Conn, c *client, args [][]byte) {
	flags, _, _ := s.tracking.info(c.id, false)
	yes := strings.EqualFold(string(args[2]), "yes")
	switch {
	case flags[0] == "off":
		conn.WriteError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
	case !yes && !strings.EqualFold(string(args[2]), "no"):
		conn.WriteError(errSyntax)
	case yes && !slices.Contains(flags, "optin"):
		conn.WriteError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
	case !yes && !slices.Contains(flags, "optout"):
		conn.WriteError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
	default:
		c.caching = cachingArmed
		conn.WriteString("OK")
	}
}

// CLIENT CACHING's flag lives for one command: armed by it, in force for
// the next, then cleared.
const (
	cachingOff = iota
	cachingArmed
	cachingNow
)

func (s *Server) cmdTrackingInfo(conn redcon.Conn, c *client, _ [][]byte) {
	flags, redirect, prefixes := s.tracking.info(c.id, c.caching != cachingOff)
	conn.WriteArray(6)
	conn.WriteBulkString("flags")
	conn.WriteArray(len(flags))
	for _, f := range flags {
		conn.WriteBulkString(f)
	}
	conn.WriteBulkString("redirect")
	conn.WriteInt64(redirect)
	conn.WriteBulkString("prefixes")
	conn.WriteArray(len(prefixes))
	for _, p := range prefixes {
		conn.WriteBulkString(p)
	}
}

func (s *Server) cmdGetRedir(conn redcon.Conn, c *client, _ [][]byte) {
	_, redirect, _ := s.tracking.info(c.id, false)
	conn.WriteInt64(redirect)
}

// trackingBegin starts a pipeline of a tracking connection: the keys the
// writes among cmds name are the connection's own until s.tracking.end,
// and so is a flush among them.
func (s *Server) trackingBegin(c *client, cmds []redcon.Command, scs []*store.Command) {
	var own [][]byte
	flushes := false
	mark := func(args [][]byte) {
		if keys, ok := commandKeys(args); ok {
			own = append(own, keys...)
		}
		name := strings.ToLower(string(args[0]))
		flushes = flushes || name == "flushall" || name == "flushdb"
	}
	for i, cmd := range cmds {
		if scs[i] != nil && !scs[i].Writes() {
			continue
		}
		mark(cmd.Args)
		if strings.EqualFold(string(cmd.Args[0]), "exec") {
			for _, q := range c.tx.queue {
				mark(q.args)
			}
		}
	}
	s.tracking.begin(c.id, own, flushes)
}

// cachingStep moves CLIENT CACHING's flag along as the connection's next
// command (args) comes: armed, it is in force for this one; in force, it
// ends, unless a transaction is open: as in Redis, a MULTI right after
// CLIENT CACHING carries it to the reads its EXEC runs (rueidis caches
// that way).
func cachingStep(c *client, args [][]byte) {
	switch {
	case c.caching == cachingArmed && !isClientSub(args, "caching"):
		c.caching = cachingNow
	case c.caching == cachingNow && !c.tx.multi:
		c.caching = cachingOff
	}
}

// commandKeys are the keys a command names, by the command table's key
// specs.
func commandKeys(args [][]byte) ([][]byte, bool) {
	sp, ok := specFor(args)
	if !ok || !sp.HasKeys() {
		return nil, false
	}
	pos, ok := sp.KeysBySpecs(args)
	if !ok {
		return nil, false
	}
	keys := make([][]byte, len(pos))
	for i, p := range pos {
		keys[i] = args[p.Pos]
	}
	return keys, true
}

// rememberRead records the keys of a read a tracking connection made.
func (s *Server) rememberRead(c *client, args [][]byte) {
	if c == nil || s.tracking.tracking.Load() == 0 {
		return
	}
	if keys, ok := commandKeys(args); ok {
		s.tracking.remember(c.id, c.caching == cachingNow, keys)
	}
}
