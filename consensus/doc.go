// Package consensus is rkv's Raft engine: a pure core and the driver that
// runs it.
//
// # The core
//
// [Raft] is a single-threaded state machine in the style of etcd-io/raft. It
// does no IO, reads no clock and starts no goroutines; randomness comes from
// an injected source. Messages and ticks go in through [Raft.Step] and
// [Raft.Tick]; what must happen next comes out of [Raft.Ready]: entries and
// hard state to persist, messages to send, committed entries to apply and
// read states to release. [Raft.Advance] acknowledges that a Ready was
// handled. The core implements, beyond the paper's figure 2:
//
//   - elections with randomized timeouts, PreVote and CheckQuorum, and a
//     no-op entry at the start of each term;
//   - pipelined replication (up to MaxInflightMsgs MsgApps per follower),
//     batching by bytes, per-follower flow control (probe, replicate and
//     snapshot states) and fast back-off using the follower's conflict hints;
//   - commitment by counting only entries of the current term;
//   - ReadIndex reads confirmed by one heartbeat round shared by every read
//     waiting, served only after the leader (a lone voter too) has
//     committed an entry of its term, and an optional lease mode
//     (LeaseRead) measured from the send time of the heartbeats a quorum
//     acknowledged (see "Leases" below);
//   - leadership transfer (catch the target up, then MsgTimeoutNow). The
//     MsgTimeoutNow carries the tick at which the leader gives the transfer
//     up; a transferee or voter that heard a heartbeat sent after it ignores
//     the transfer, and the leader trusts its lease again only on such
//     heartbeats, so a late MsgTimeoutNow cannot depose a leader that still
//     serves lease reads;
//   - snapshots streamed in chunks (MsgSnap), resumable from the offset the
//     follower reports; a partial snapshot is kept only for chunks from the
//     same sender and term, since two nodes' snapshots of one index need not
//     be the same bytes. The leader's core knows its snapshot only by
//     metadata and size ([Storage.SnapshotMeta]): its MsgSnaps name a chunk
//     (SnapOffset, SnapLen) that the driver reads;
//   - single-server membership changes carried by EntryConfChange entries:
//     new servers join as learners and the leader promotes them once they
//     are caught up, unless Config.AutoPromote keeps one a learner for good
//     (a non-voter: it receives the log and never counts in a quorum, until
//     a ConfPromote, refused for a learner not caught up, makes it a voter);
//     a removed leader steps down once its removal is applied. Only one change is in flight at a time, and a new leader
//     must commit its no-op first.
//
// # Membership
//
// A membership takes effect on a node when its entry enters the node's log,
// committed or not (the rule of Ongaro's thesis, §4.1), and is undone when
// a new leader overwrites the entry; at start-up the core rebuilds it from
// the snapshot's membership and every conf entry in the log. Single-server
// changes keep every quorum of one membership meeting every quorum of the
// next, and a leader proposes a change only once the previous one is
// committed, so the memberships in use anywhere are at most one change
// apart; what each node uses is in its log, which is durable before
// anything it acknowledged, so no restart takes a node back further. (The
// rule it replaced, membership as of the applied index, depended on the
// commit index, which the driver saves lazily: a voter restarted after two
// changes it had not saved as committed campaigned under the membership
// from two changes back, whose quorums need not meet the current one's.)
// A leader that removes itself replicates without counting itself until
// the removal is committed (thesis §4.2.2), and a voter whose removal is
// in its log but not yet applied may still campaign, again without
// counting itself: its log may hold what the remaining voters need to
// elect anyone, so removing a voter from a group of two cannot leave the
// other waiting for it forever. Only a lone voter cannot be removed
// (ErrUnsafeConfChange). A brand-new group is bootstrapped from
// Config.Peers: its log starts with one committed conf entry per founding
// voter, identical on every founder.
//
// # Commit persistence
//
// Only the term and vote must be durable before a message that depends on
// them leaves. The commit index is saved with them and otherwise at most
// every 200 ms of change: it can always be learned again from a leader,
// and nothing that decides safety (membership, votes) reads it after a
// restart. Until a leader commits an entry of its own term it neither
// serves reads nor proposes membership changes.
//
// # Leases
//
// In lease mode a leader answers reads without a heartbeat round while a
// quorum acknowledged heartbeats sent within the last ElectionTick -
// LeaseMargin ticks; those voters refuse to vote for anyone else until an
// election timeout after hearing from it. Ticks are counted by the driver
// as whole intervals of its clock since it started, never forced, and a
// lease-mode leader brings the count up to the clock before every step,
// since any step may release a read; a stall of the loop (a pause, SIGSTOP)
// therefore ends the lease rather than extend it. The margin, at least 3
// ticks, covers tick granularity and clock drift: the arithmetic is beside
// Raft.leaseValid. A leadership transfer suspends the lease until voters
// have answered heartbeats sent after the transfer's deadline.
//
// # The driver
//
// [Node] runs a core in one goroutine. Each Ready is persisted through a
// [LogStore] with one write and one sync for the whole batch (group commit)
// by a persist goroutine, so the core goes on stepping messages while the
// disk syncs. A leader holds the proposals that arrive while a batch of
// its is in flight (not yet written or not yet committed) and steps them
// as one batch once it commits: one batch is replicated while the next
// gathers. A message leaves before the writes queued ahead of it only
// once the term and vote it was sent under are durable (as reported by the
// persist goroutine, not merely queued); then a leader sends its appends
// before its own write, as the thesis allows, and counts itself only once
// the write is done, while acknowledgements always follow the write. A
// received snapshot is restored into the state machine before it is made
// durable; one that does not restore is refused and the core restarts from
// storage. Proposals return the [StateMachine]'s result for their entry,
// or *NotLeaderError, ErrProposalDropped (also when a later leadership
// reused the entry's index) or the context's error; a membership change is
// proposed on its own, so one refused as pending fails alone.
// [Node.ReadIndex] batches every waiting read into one confirmation round.
// A failed write of the log (a full disk) neither stops the node nor
// acknowledges anything: the job is written again, with the jobs queued
// since, after a wait that doubles up to a cap, its messages held until
// then. Meanwhile proposals fail with ErrStorageFailed wrapping the cause
// ([Node.StorageError]) and the core is told ([Raft.SetStorageFault]):
// a leader hands its leadership to a voter that can write, and the node
// stays out of elections and ignores the entries leaders send. A received
// snapshot that storage refuses stays restored in the state machine and
// its Ready with the core, stored by a later retry. A failed local
// snapshot is tried again later too ([Node.SnapshotError]).
//
// The snapshot chunks a leader's core asks for are read from storage
// ([Storage.ReadSnapshotChunk]) by a reader goroutine per follower, never
// by the run goroutine, which would otherwise stop answering heartbeats
// while it reads a large snapshot. Each follower has one chunk being read
// and at most one waiting (the newest). A chunk of a snapshot that storage
// has replaced is reported to the core ([Raft.ReportSnapshotReplaced]),
// which starts the follower on the current one; any other read error
// stops the node. Integrity is checked at both ends: wal checks a
// snapshot file's checksum once, when its first chunk is read, and the
// follower's state machine refuses a snapshot that does not restore
// before anything of it is saved.
//
// # Testing
//
// The seeded simulation (sim_test.go) runs these same Nodes step by step,
// without their goroutines, over a disk whose writes complete when the
// simulation chooses and a network that drops, duplicates, reorders and
// replays messages; see the comment at its top.
//
// Messages carry a GroupID so one process and one [Transport] can later host
// a group per slot range; today rkv runs one group.
package consensus
