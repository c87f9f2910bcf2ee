package replica

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/script"
	"github.com/rkv/rkv/store"
)

// Replica is one Raft group on this node: its consensus node, the store
// its log is applied to, the state machine, the member directory, the ACL
// users it replicates and the leader's expiry and eviction.
type Replica struct {
	node      *consensus.Node
	store     *store.Store
	members   *Members
	removal   *Removal
	changes   *changeFeed
	scripts   *script.Engine
	publishes *publishFeed
	// scriptMonitor is the state machine's MonitorScripts hook.
	scriptMonitor *atomic.Pointer[func(args [][]byte)]

	removedOnce sync.Once
	removed     chan struct{}
}

// Config describes a replica to start.
type Config struct {
	// Node configures the consensus node; its StateMachine is the
	// replica's own and must be left nil.
	Node consensus.NodeConfig
	// Members is the directory of the group's nodes.
	Members *Members
	// Users is the ACL state this group replicates.
	Users   Users
	Removal RemovalConfig
	Logger  *slog.Logger
	// Databases is how many databases clients may use (Redis's
	// databases setting; 0: store.DefaultDatabases). Every node of the
	// group must have the same.
	Databases int
}

// Start restores the replica from its storage and starts its consensus
// node and the leader's expiry and eviction loops.
func Start(cfg Config) (*Replica, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Replica{store: store.New(), members: cfg.Members, removed: make(chan struct{})}
	if cfg.Databases > 0 {
		r.store.SetDatabases(cfg.Databases)
	}
	m := NewStateMachine(r.store, cfg.Members, cfg.Users, cfg.Node.Raft.ID, cfg.Logger, r.markRemoved)
	r.changes, r.scripts, r.publishes = m.(*machine).changes, m.(*machine).scripts, m.(*machine).publishes
	r.scriptMonitor = m.(*machine).monitor
	hs, _, err := cfg.Node.Storage.InitialState()
	if err != nil {
		return nil, err
	}
	r.publishes.from = hs.Commit + 1
	cfg.Node.StateMachine = m
	cfg.Node.Raft.AutoPromote = m.(*machine).autoPromote
	node, err := consensus.StartNode(cfg.Node)
	if err != nil {
		return nil, err
	}
	r.node = node
	r.removal = newRemoval(node, r.store, cfg.Removal)
	r.removal.Start()
	return r, nil
}

func (r *Replica) markRemoved() { r.removedOnce.Do(func() { close(r.removed) }) }

// Node is the group's consensus node.
func (r *Replica) Node() *consensus.Node { return r.node }

// Store is the keyspace the log is applied to.
func (r *Replica) Store() *store.Store { return r.store }

// Members is the directory of the group's nodes.
func (r *Replica) Members() *Members { return r.members }

// Removal is the leader's expiry and eviction, and the maxmemory limits.
func (r *Replica) Removal() *Removal { return r.removal }

// Removed is closed once this node's own removal from the group is
// applied.
func (r *Replica) Removed() <-chan struct{} { return r.removed }

// Stop stops the expiry and eviction loops and then the consensus node.
func (r *Replica) Stop() {
	r.removal.Stop()
	r.node.Stop()
}

// Scripts is the group's script cache and function libraries, and the
// engine that runs them.
func (r *Replica) Scripts() *script.Engine { return r.scripts }
