// Package wal is rkv's durable Raft log: a consensus.LogStore kept in a
// directory. The Raft driver saves each Ready through it (entries with one
// write and one fsync, then the hard state) and the core reads the log back
// through it; the application compacts the log behind the snapshots it
// takes, and a snapshot received from the leader replaces the log.
//
// # Layout
//
//	dir/hardstate            term, vote, commit
//	dir/snap-<index>.snap    the latest snapshot (index zero-padded to 20 digits)
//	dir/log/<index>          tidwall/wal segment files, named by their first index
//
// Entries are stored with github.com/tidwall/wal, whose entry index is the
// Raft index itself: no offset is kept anywhere. tidwall/wal numbers a new
// log from the index in the name of its first segment file, so to make the
// log continue after a snapshot at index S the log directory is emptied and
// one empty segment file named S+1 is created (with AllowEmpty, tidwall/wal
// opens it as an empty log whose next index is S+1). A local snapshot
// leaves the log alone; Compact(i) later uses tidwall/wal's TruncateFront
// to keep entries from i on, entry i serving as the dummy whose term
// answers Term(FirstIndex()-1). Which index is the dummy follows from the
// files alone: the first entry on disk once the snapshot covers it, the
// snapshot itself when the log starts right after it. So entries up to the
// snapshot's index stay readable between the two calls, and across a
// restart, for followers that install an older snapshot.
//
// # Record format
//
// Each tidwall/wal entry (framed by tidwall/wal as a uvarint length and the
// bytes) holds one record, little endian:
//
//	crc32c uint32 | index uint64 | term uint64 | type uint8 | data
//
// The CRC-32C (Castagnoli) covers everything after itself. Every read checks
// the checksum, the index and the type; a mismatch is a *CorruptError naming
// the segment file and the byte offset of the record, wrapping ErrCorrupt.
//
// The hard state file is crc32c | term | vote | commit (28 bytes). A
// snapshot file is "rkvsnap1" | crc32c | meta length uint32 | meta | data,
// meta being index | term | voters | learners (each list a uvarint count and
// uvarint ids), the checksum covering everything after itself. Both are
// replaced atomically: written to a .tmp file, fsynced, renamed into place,
// and the directory fsynced. A Save that only advances Commit skips the
// directory fsync: if the rename is lost the old file, with the same term
// and vote, is still whole, and the commit index is learned again.
//
// # Durability
//
// Save writes all of its entries in one tidwall/wal batch and fsyncs once
// (tidwall/wal adds a sync of the finished segment when a batch crosses a
// segment boundary). tidwall/wal never fsyncs the directory, so this
// package does after every operation that creates, removes or renames
// files: segment rollover, truncation, snapshot and hard-state renames.
//
// A failed write or sync (a full disk, above all) returns its error and
// leaves the Log usable, holding what was written before the failure, so
// that the caller may retry the call: a failed hard state or snapshot
// write leaves the previous file whole; after a failed write of entries,
// which may leave part of the batch in the segment and tidwall/wal's
// memory out of step with its files, the segments are cut back to the
// last entry published (synced before it was) and reopened, so that a
// retry writes the batch afresh rather than trust a sync of pages that
// already failed one. Cutting needs no space, so this works on a full
// disk; should it fail anyway, writes return ErrFailed wrapping the first
// error until a retry of the repair, made by each write, succeeds. A
// retried Save skips the entries it finds written with the same term (a
// batch whose hard state failed after it), since a truncation copies a
// segment and needs space.
//
// # Recovery
//
// Open checks every record of every segment before handing the directory
// to tidwall/wal (which has no checksums and refuses a torn last record):
//
//   - A truncation tidwall/wal had begun (.START or .END file) is finished,
//     as tidwall/wal itself would; leftover temporary files are removed.
//   - In the last segment, a bad record after which no good record follows
//     anywhere is a write torn by a crash (or a zero-filled tail): the file
//     is cut back to the last good record and a warning is logged. Those
//     entries were never synced, so never acknowledged.
//   - Any other damage stops Open with a *CorruptError naming the file and
//     byte offset: a bad record in an earlier segment, a bad record in the
//     last segment followed by good data, a record with the wrong index, a
//     gap between segments, a bad hard state or snapshot file.
//   - The log is reconciled with the latest snapshot S. Entries up to S
//     that agree with it (entry S has its term) are kept: they are not
//     applied again, since the application restores S and replays from
//     S+1, but followers may still need them. A log that ends before S, or
//     whose entry S has another term than the snapshot, is what a crash
//     during the install of a leader's snapshot leaves: it is replaced by
//     an empty log after S. The install removes segment files
//     from the highest down, so a partial removal leaves a prefix of the old
//     log that is either consistent with the snapshot or replaced.
//
// # Memory
//
// The last Options.CacheSize entries are kept in memory, so replication and
// Term rarely read the disk. Snapshot data is not kept: Snapshot reads its
// file, and SnapshotMeta answers from memory (metadata and data size). All
// methods hold one mutex, so the driver and a snapshotting goroutine may
// call them concurrently.
//
// # Sending snapshots
//
// The Raft driver reads a snapshot chunk by chunk with ReadSnapshotChunk:
// to restore its state machine at start, and to send it to a follower, on
// goroutines of its own. Open keeps the file of the snapshot it checked
// open for those reads; the first read of a later snapshot opens its file
// and checks all of it as Open does (magic, index, checksum), streaming it through the checksum without holding it in
// memory or holding the log's mutex; later chunks are read from the open
// file unchecked, and damage after the check (or in transit) is for the
// follower's state machine, which checks its own format, to refuse. Up to
// two snapshot files stay open, the two most recently read, so that a
// transfer under way goes on when a newer snapshot removes its file; the
// follower can then go on from the log, which the driver keeps back to the
// previous snapshot by default. A read of any other snapshot than these
// and the latest returns consensus.ErrSnapOutOfDate, and the driver
// starts the follower on the latest.
package wal
