package resp

// Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH,
// SPUBLISH and PUBSUB, with Redis 7.0's replies.
//
// A PUBLISH is not sent to this node's subscribers when it is asked: it is
// proposed as a replica.KindPublish entry, and every node hands it to its
// own subscribers when it applies the entry (the hub is the replica's
// OnPublish listener). So a subscriber on any node, leader or follower,
// receives each message published after its SUBSCRIBE was answered, once
// and in log order, also across a change of leader; a follower answers a
// PUBLISH with MOVED, as any write. PUBLISH's reply is the number of
// clients that received it on the node that answered, the leader; the
// others count theirs when they apply it, after the reply. PUBSUB
// CHANNELS, NUMSUB, NUMPAT and the shard forms report this node's
// subscriptions, as each node of a Redis Cluster reports its own.
//
// Subscribers get messages through their outbox (outbox.go), so the
// applier never waits for a client.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){
		"subscribe":    subscribeCmd(subChannel),
		"psubscribe":   subscribeCmd(subPattern),
		"ssubscribe":   subscribeCmd(subShard),
		"unsubscribe":  unsubscribeCmd(subChannel),
		"punsubscribe": unsubscribeCmd(subPattern),
		"sunsubscribe": unsubscribeCmd(subShard),
		"publish":      (*Server).cmdPublish,
		"spublish":     (*Server).cmdPublish,
		"pubsub":       (*Server).cmdPubsub,
	})
}

// subKind is what a subscription names: a channel, a pattern of channels
// or a shard channel.
type subKind int

const (
	subChannel subKind = iota
	subPattern
	subShard
	numSubKinds
)

// The words of the pushed replies and messages, by kind.
var (
	subscribeWord   = [numSubKinds]string{"subscribe", "psubscribe", "ssubscribe"}
	unsubscribeWord = [numSubKinds]string{"unsubscribe", "punsubscribe", "sunsubscribe"}
	messageWord     = [numSubKinds]string{"message", "pmessage", "smessage"}
)

// pubsubHub is this node's subscriptions: per kind, for each name, the
// connections subscribed to it.
type pubsubHub struct {
	mu   sync.Mutex
	subs [numSubKinds]map[string]map[*subscriber]struct{}
}

// subscriber is one connection's subscriptions. Its sets change under the
// hub's mutex and only on the connection's goroutine, which reads them
// without it.
type subscriber struct {
	out  *outbox
	sets [numSubKinds]map[string]struct{}
	// resp3 is the connection's protocol: its pushes are RESP3's.
	resp3 atomic.Bool
}

// push queues a pushed reply, written in RESP2, in the subscriber's
// protocol.
func (sub *subscriber) push(b []byte) { sub.out.Write(pushForm(b, sub.resp3.Load())) }

func newPubsubHub() *pubsubHub {
	h := &pubsubHub{}
	for k := range h.subs {
		h.subs[k] = make(map[string]map[*subscriber]struct{})
	}
	return h
}

func newSubscriber(out *outbox) *subscriber {
	sub := &subscriber{out: out}
	for k := range sub.sets {
		sub.sets[k] = make(map[string]struct{})
	}
	return sub
}

// count is the number subscription replies carry: a shard reply counts
// the shard channels, the others the channels and patterns, as Redis.
func (sub *subscriber) count(kind subKind) int {
	if kind == subShard {
		return len(sub.sets[subShard])
	}
	return len(sub.sets[subChannel]) + len(sub.sets[subPattern])
}

func (sub *subscriber) total() int {
	return len(sub.sets[subChannel]) + len(sub.sets[subPattern]) + len(sub.sets[subShard])
}

// subscribe adds the names and queues a confirmation for each. The hub's
// mutex orders them with deliveries: no message the subscription lets
// through is queued before its confirmation.
func (h *pubsubHub) subscribe(sub *subscriber, kind subKind, names [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range names {
		name := string(n)
		if _, ok := sub.sets[kind][name]; !ok {
			sub.sets[kind][name] = struct{}{}
			clients := h.subs[kind][name]
			if clients == nil {
				clients = make(map[*subscriber]struct{})
				h.subs[kind][name] = clients
			}
			clients[sub] = struct{}{}
		}
		sub.push(appendSubscription(nil, subscribeWord[kind], n, sub.count(kind)))
	}
}

// unsubscribe removes the names, or every name of the kind when there are
// none, and queues a confirmation for each, or one with a null name when
// there was nothing to remove; no message of a name is queued after its
// confirmation.
func (h *pubsubHub) unsubscribe(sub *subscriber, kind subKind, names [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(names) == 0 {
		for name := range sub.sets[kind] {
			names = append(names, []byte(name))
		}
		if len(names) == 0 {
			sub.push(appendSubscription(nil, unsubscribeWord[kind], nil, sub.count(kind)))
			return
		}
	}
	for _, n := range names {
		h.remove(sub, kind, string(n))
		sub.push(appendSubscription(nil, unsubscribeWord[kind], n, sub.count(kind)))
	}
}

// remove takes sub off name; the hub's mutex is held.
func (h *pubsubHub) remove(sub *subscriber, kind subKind, name string) {
	if _, ok := sub.sets[kind][name]; !ok {
		return
	}
	delete(sub.sets[kind], name)
	clients := h.subs[kind][name]
	delete(clients, sub)
	if len(clients) == 0 {
		// Forgotten with its last subscriber, so that channels once used
		// do not pile up.
		delete(h.subs[kind], name)
	}
}

// forget removes every subscription of a connection that closed or was
// RESET.
func (h *pubsubHub) forget(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for kind := range numSubKinds {
		for name := range sub.sets[kind] {
			h.remove(sub, kind, name)
		}
		clear(sub.sets[kind])
	}
}

// deliver queues an applied PUBLISH or SPUBLISH for this node's
// subscribers and returns how many there were, a subscriber counted once
// per channel or pattern that matched, as Redis counts. It runs on the
// replica's applier.
func (h *pubsubHub) deliver(p replica.Publish) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	kind := subChannel
	if p.Shard {
		kind = subShard
	}
	n := 0
	if clients := h.subs[kind][string(p.Channel)]; len(clients) > 0 {
		msg := newPushed(appendMessage(nil, messageWord[kind], nil, p.Channel, p.Message))
		for sub := range clients {
			sub.out.Write(msg.form(sub))
			n++
		}
	}
	if p.Shard || len(h.subs[subPattern]) == 0 {
		// Shard channels are not matched against patterns, as in Redis.
		return n
	}
	channel := string(p.Channel)
	for pattern, clients := range h.subs[subPattern] {
		if !store.GlobMatch(pattern, channel) {
			continue
		}
		msg := newPushed(appendMessage(nil, messageWord[subPattern], []byte(pattern), p.Channel, p.Message))
		for sub := range clients {
			sub.out.Write(msg.form(sub))
			n++
		}
	}
	return n
}

// names lists this node's names of a kind matching pattern (all with nil).
func (h *pubsubHub) names(kind subKind, pattern []byte) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for name := range h.subs[kind] {
		if pattern == nil || store.GlobMatch(string(pattern), name) {
			out = append(out, name)
		}
	}
	return out
}

// numSub is the number of this node's subscribers of a name.
func (h *pubsubHub) numSub(kind subKind, name []byte) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[kind][string(name)])
}

// numPatterns is the number of distinct patterns subscribed on this node.
func (h *pubsubHub) numPatterns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[subPattern])
}

// The pushed forms, written here as RESP2's arrays: RESP3 connections get
// the same elements under a push header (pushForm).

// pushed is one message for many subscribers, in each protocol once.
type pushed struct{ resp2, resp3 []byte }

func newPushed(resp2 []byte) *pushed { return &pushed{resp2: resp2} }

func (p *pushed) form(sub *subscriber) []byte {
	if !sub.resp3.Load() {
		return p.resp2
	}
	if p.resp3 == nil {
		p.resp3 = pushForm(p.resp2, true)
	}
	return p.resp3
}

// appendPushHeader begins a pushed reply of n elements.
func appendPushHeader(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

func appendBulk(b, s []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendSubscription is a (un)subscribe confirmation: the word, the name
// (a null one for an UNSUBSCRIBE without names when there were none) and
// the count of subscriptions left.
func appendSubscription(b []byte, word string, name []byte, count int) []byte {
	b = appendPushHeader(b, 3)
	b = appendBulk(b, []byte(word))
	if name == nil {
		b = append(b, "$-1\r\n"...)
	} else {
		b = appendBulk(b, name)
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(count), 10)
	return append(b, '\r', '\n')
}

// appendMessage is a message, with the pattern it matched for a pmessage.
func appendMessage(b []byte, word string, pattern, channel, message []byte) []byte {
	if pattern != nil {
		b = appendPushHeader(b, 4)
		b = appendBulk(b, []byte(word))
		b = appendBulk(b, pattern)
	} else {
		b = appendPushHeader(b, 3)
		b = appendBulk(b, []byte(word))
	}
	b = appendBulk(b, channel)
	return appendBulk(b, message)
}

// appendSubscribedPong is PING's reply to a subscribed RESP2 connection.
func appendSubscribedPong(b, msg []byte) []byte {
	b = appendPushHeader(b, 2)
	b = appendBulk(b, []byte("pong"))
	return appendBulk(b, msg)
}

// subscribes reports whether the pipeline holds a command that subscribes
// (or turns tracking on, or monitors: what they get is pushed alike):
// its connection needs an outbox before any of them runs.
func subscribes(cmds []redcon.Command, scs []*store.Command) bool {
	for i, cmd := range cmds {
		if scs[i] != nil {
			continue
		}
		name := cmd.Args[0]
		if bytes.EqualFold(name, []byte("subscribe")) || bytes.EqualFold(name, []byte("psubscribe")) ||
			bytes.EqualFold(name, []byte("ssubscribe")) {
			return true
		}
		// Invalidations are pushed as messages are.
		if isClientSub(cmd.Args, "tracking") ||
			bytes.EqualFold(name, []byte("monitor")) {
			return true
		}
	}
	return false
}

// openOutbox gives the connection its outbox, after writing out what
// redcon holds for it, which comes first.
func (s *Server) openOutbox(conn redcon.Conn, c *client) {
	if w := redcon.BaseWriter(conn); w != nil {
		w.Flush()
	}
	raw := conn.NetConn()
	if c.guard != nil {
		raw = c.guard.Conn
	}
	out := newOutbox(raw, &s.conns)
	sub := newSubscriber(out)
	sub.resp3.Store(c.resp3)
	oc := newOutConn(conn, out)
	s.setClient(c, func(c *client) { c.sub, c.outConn = sub, oc })
}

// subscribedRefusal is Redis's error for a command a subscribed RESP2
// connection may not run, or "". A command Redis would refuse anyway for
// its name or arity is left to that error.
func subscribedRefusal(args [][]byte) string {
	sp, ok := specFor(args)
	if !ok || !sp.ArityFits(len(args)) {
		return ""
	}
	switch sp.Name {
	case "ping", "subscribe", "ssubscribe", "psubscribe", "unsubscribe", "sunsubscribe", "punsubscribe", "quit", "reset":
		return ""
	}
	return fmt.Sprintf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", sp.Name)
}

// subscribed reports whether the connection has subscriptions.
func (c *client) subscribed() bool { return c.nsub+c.npsub+c.nssub > 0 }

// subscriptionsChanged brings the counts CLIENT LIST shows, the limits and
// the idle timeout up to date with the connection's subscriptions.
func (s *Server) subscriptionsChanged(c *client) {
	sub := c.sub
	s.setClient(c, func(c *client) {
		c.nsub, c.npsub, c.nssub = len(sub.sets[subChannel]), len(sub.sets[subPattern]), len(sub.sets[subShard])
	})
	sub.out.setPubsub(sub.total() > 0)
	if c.guard != nil {
		c.guard.subscribed.Store(sub.total() > 0)
	}
}

func subscribeCmd(kind subKind) func(s *Server, conn redcon.Conn, c *client, args [][]byte) {
	return func(s *Server, _ redcon.Conn, c *client, args [][]byte) {
		// handle opened the outbox for this pipeline (subscribes).
		s.pubsub.subscribe(c.sub, kind, args[1:])
		s.subscriptionsChanged(c)
	}
}

func unsubscribeCmd(kind subKind) func(s *Server, conn redcon.Conn, c *client, args [][]byte) {
	return func(s *Server, conn redcon.Conn, c *client, args [][]byte) {
		if c.sub == nil {
			// Never subscribed: nothing to remove, and no outbox needed
			// to keep the confirmations in order.
			if len(args) == 1 {
				conn.WriteRaw(pushForm(appendSubscription(nil, unsubscribeWord[kind], nil, 0), c.resp3))
				return
			}
			for _, n := range args[1:] {
				conn.WriteRaw(pushForm(appendSubscription(nil, unsubscribeWord[kind], n, 0), c.resp3))
			}
			return
		}
		s.pubsub.unsubscribe(c.sub, kind, args[1:])
		s.subscriptionsChanged(c)
	}
}

// cmdPublish proposes PUBLISH or SPUBLISH through the log; the reply is
// the number of this node's receivers when it applied the entry.
func (s *Server) cmdPublish(conn redcon.Conn, _ *client, args [][]byte) {
	shard := strings.EqualFold(string(args[0]), "spublish")
	route := publishRoute
	if shard {
		route = spublishRoute
	}
	s.propose(conn, s.route.forCommand(route, args), route, args, func() []byte {
		return replica.EncodePublish(time.Now().UnixMilli(), shard, args[1], args[2])
	})
}

// publishRoute and spublishRoute place PUBLISH (no key: slot 0, as other
// keyless writes) and SPUBLISH (its shard channel's slot) for MOVED.
var (
	publishRoute  = routeOf("publish")
	spublishRoute = routeOf("spublish")
)

var pubsubHelp = []string{
	"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CHANNELS [<pattern>]",
	"    Return the currently active channels matching a <pattern> (default: '*').",
	"NUMPAT",
	"    Return number of subscriptions to patterns.",
	"NUMSUB [<channel> ...]",
	"    Return the number of subscribers for the specified channels, excluding",
	"    pattern subscriptions(default: no channels).",
	"SHARDCHANNELS [<pattern>]",
	"    Return the currently active shard level channels matching a <pattern> (default: '*').",
	"SHARDNUMSUB [<shardchannel> ...]",
	"    Return the number of subscribers for the specified shard level channel(s)",
	"HELP",
	"    Prints this help.",
}

// cmdPubsub serves PUBSUB, its subcommand and arity already checked.
func (s *Server) cmdPubsub(conn redcon.Conn, _ *client, args [][]byte) {
	kind := subChannel
	switch sub := strings.ToLower(string(args[1])); sub {
	case "help":
		conn.WriteArray(len(pubsubHelp))
		for _, h := range pubsubHelp {
			conn.WriteString(h)
		}
	case "shardchannels", "channels":
		if sub == "shardchannels" {
			kind = subShard
		}
		if len(args) > 3 {
			conn.WriteError(fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%s'. Try PUBSUB HELP.", truncate(args[1])))
			return
		}
		var pattern []byte
		if len(args) == 3 {
			pattern = args[2]
		}
		names := s.pubsub.names(kind, pattern)
		conn.WriteArray(len(names))
		for _, n := range names {
			conn.WriteBulkString(n)
		}
	case "shardnumsub", "numsub":
		if sub == "shardnumsub" {
			kind = subShard
		}
		conn.WriteArray(2 * (len(args) - 2))
		for _, name := range args[2:] {
			conn.WriteBulk(name)
			conn.WriteInt(s.pubsub.numSub(kind, name))
		}
	case "numpat":
		conn.WriteInt(s.pubsub.numPatterns())
	}
}

// channelRefusal is the error that refuses u a command for the channels
// it names, or "": as Redis 7.0 checks them, a channel must match one of
// the user's channel patterns, and a PSUBSCRIBE pattern must be one of
// them, literally.
func channelRefusal(u *aclUser, name string, args [][]byte) string {
	if u.allChans || len(args) < 2 {
		return ""
	}
	var channels [][]byte
	literal := false
	switch name {
	case "publish", "spublish":
		channels = args[1:2]
	case "subscribe", "ssubscribe":
		channels = args[1:]
	case "psubscribe":
		channels, literal = args[1:], true
	default:
		return ""
	}
	for _, ch := range channels {
		ok := false
		for _, p := range u.channels {
			if literal && p == string(ch) || !literal && store.GlobMatch(p, string(ch)) {
				ok = true
				break
			}
		}
		if !ok {
			return "NOPERM this user has no permissions to access one of the channels used as arguments"
		}
	}
	return ""
}
