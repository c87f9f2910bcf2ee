package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/internal/countio"
)

// A backup file is the group's snapshot, as a follower installs it (see
// machine.Snapshot), framed with the log position it holds. All integers
// are little-endian:
//
//	magic  "RKVBKUP1"
//	index  uint64  the snapshot holds the log up to this index, no further
//	term   uint64  the term of the entry at index
//	taken  int64   when it was taken, Unix milliseconds (the writer's clock)
//	data   the snapshot: members, ACL users, scripts, functions, keyspace
//	size   uint64  the length of data
//	crc    uint32  CRC-32C (Castagnoli) of every byte above
//
// The trailer comes last so that the file is written in one pass; a file
// cut short or damaged fails the size or the checksum. SAVE, BGSAVE and
// rkv backup write it; rkv restore seeds a new node's data directory from
// it (Seed).
const (
	backupMagic   = "RKVBKUP1"
	backupHeader  = len(backupMagic) + 24
	backupTrailer = 12
)

// ErrBadBackup is wrapped by ReadBackup's errors for a file that is not a
// whole rkv backup.
var ErrBadBackup = errors.New("not a whole rkv backup")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BackupInfo is the position a backup holds.
type BackupInfo struct {
	Index, Term uint64
	Taken       time.Time
	// Keys counts the keys of every database; ReadBackup fills it.
	Keys uint64
}

// WriteBackup writes a backup of the group's state to w. When
// linearizable, the node must lead and the backup holds everything
// committed before the call (a ReadIndex round first); otherwise it holds
// what this node has applied, a prefix of the committed log.
func (r *Replica) WriteBackup(ctx context.Context, w io.Writer, linearizable bool) (BackupInfo, error) {
	if linearizable {
		if err := r.node.ReadIndex(ctx); err != nil {
			return BackupInfo{}, err
		}
	}
	meta, write, err := r.node.SnapshotApplied(ctx)
	if err != nil {
		return BackupInfo{}, err
	}
	info := BackupInfo{Index: meta.Index, Term: meta.Term, Taken: time.Now()}
	return info, writeBackup(w, info, write)
}

// writeBackup frames the snapshot write writes with info.
func writeBackup(w io.Writer, info BackupInfo, write consensus.SnapshotWriter) error {
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w, crc)
	hdr := append([]byte(backupMagic), make([]byte, 24)...)
	binary.LittleEndian.PutUint64(hdr[8:], info.Index)
	binary.LittleEndian.PutUint64(hdr[16:], info.Term)
	binary.LittleEndian.PutUint64(hdr[24:], uint64(info.Taken.UnixMilli()))
	if _, err := out.Write(hdr); err != nil {
		return err
	}
	data := &countio.Writer{W: out}
	if err := write(data); err != nil {
		return err
	}
	trailer := binary.LittleEndian.AppendUint64(nil, uint64(data.N))
	crc.Write(trailer)
	trailer = binary.LittleEndian.AppendUint32(trailer, crc.Sum32())
	_, err := w.Write(trailer)
	return err
}

// ReadBackup reads a whole backup file and checks it: its size, its
// checksum and the snapshot's header. It returns the position it holds and
// the snapshot.
func ReadBackup(r io.Reader) (BackupInfo, []byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return BackupInfo{}, nil, err
	}
	if len(b) < backupHeader+backupTrailer || string(b[:len(backupMagic)]) != backupMagic {
		return BackupInfo{}, nil, fmt.Errorf("%w: it does not start with %q", ErrBadBackup, backupMagic)
	}
	size := binary.LittleEndian.Uint64(b[len(b)-backupTrailer:])
	if size != uint64(len(b)-backupHeader-backupTrailer) {
		return BackupInfo{}, nil, fmt.Errorf("%w: truncated or damaged (%d bytes of data, its trailer says %d)",
			ErrBadBackup, len(b)-backupHeader-backupTrailer, size)
	}
	if crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return BackupInfo{}, nil, fmt.Errorf("%w: checksum mismatch (damaged)", ErrBadBackup)
	}
	info := BackupInfo{Index: binary.LittleEndian.Uint64(b[8:]), Term: binary.LittleEndian.Uint64(b[16:]),
		Taken: time.UnixMilli(int64(binary.LittleEndian.Uint64(b[24:])))}
	data := b[backupHeader : len(b)-backupTrailer]
	if info.Keys, err = snapshotKeys(data); err != nil {
		return BackupInfo{}, nil, fmt.Errorf("%w: %w", ErrBadBackup, err)
	}
	return info, data, nil
}

// snapshotKeys reads the key count from a snapshot's headers.
func snapshotKeys(data []byte) (uint64, error) {
	r := bytes.NewReader(data)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !knownMagic(string(magic)) {
		return 0, fmt.Errorf("replica: snapshot does not start with %q", snapshotMagic)
	}
	if _, _, err := readMembers(r, string(magic)); err != nil {
		return 0, err
	}
	if _, _, _, err := readReplicated(r, string(magic)); err != nil {
		return 0, err
	}
	// The store's snapshot: magic, clock, seq, then the count.
	var hdr [32]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || !strings.HasPrefix(string(hdr[:8]), "RKVSNAP") {
		return 0, errors.New("replica: corrupt snapshot: no keyspace")
	}
	return binary.LittleEndian.Uint64(hdr[24:]), nil
}

// Seed returns a backup's snapshot made the first state of a new group
// whose founding members are members: their list replaces the backed-up
// group's, whose addresses mean nothing to the new one, and the rest (ACL
// users, scripts, functions, keyspace) is kept byte for byte. Installed as
// the founders' snapshot at the backup's index and term, it is what each
// of them restores at start.
func Seed(data []byte, members []Member) ([]byte, error) {
	r := bytes.NewReader(data)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !knownMagic(string(magic)) {
		return nil, fmt.Errorf("replica: snapshot does not start with %q", snapshotMagic)
	}
	if _, _, err := readMembers(r, string(magic)); err != nil {
		return nil, err
	}
	rest := data[len(data)-r.Len():]
	// The learners that stayed learners were members of the old group:
	// without them the list is what snapshotMagicV4 holds.
	if string(magic) == snapshotMagic {
		magic = []byte(snapshotMagicV4)
	}
	out := append([]byte(nil), magic...)
	out = binary.AppendUvarint(out, uint64(len(members)))
	for _, m := range members {
		// Founders advertise no bus address in the log: each node has
		// its route to them from its --cluster list.
		out = binary.AppendUvarint(out, uint64(m.ID))
		out = appendString(out, m.ClientAddr)
		out = appendString(out, "")
	}
	return append(out, rest...), nil
}
