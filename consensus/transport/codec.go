package transport

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/rkv/rkv/consensus"
)

// Errors of message decoding. Every decoding failure wraps one of them.
var (
	// ErrTruncated means the input ends before the message does, or a
	// length or count claims more bytes than remain.
	ErrTruncated = errors.New("transport: truncated message")
	// ErrTrailingBytes means bytes follow a complete message.
	ErrTrailingBytes = errors.New("transport: trailing bytes after message")
	// ErrUnknownType means the message type is not a consensus.MessageType.
	ErrUnknownType = errors.New("transport: unknown message type")
	// ErrCorrupt means a field holds a value no encoder produces
	// (unknown flag bits, unknown entry type, overlong varint).
	ErrCorrupt = errors.New("transport: corrupt message")
)

// Flag bits of the second byte of an encoded message.
const (
	flagReject   = 1 << 0
	flagSnapDone = 1 << 1
	flagSnapshot = 1 << 2 // SnapshotMeta follows the entries
	flagsKnown   = flagReject | flagSnapDone | flagSnapshot
)

// minEntrySize is the fewest bytes an encoded entry takes (term, index,
// type, data length). Entry counts are checked against it so a forged
// count cannot make the decoder allocate more than the input justifies.
const minEntrySize = 4

// EncodeMessage appends the wire encoding of m to b and returns the
// extended slice. The layout is described in the package documentation.
func EncodeMessage(b []byte, m *consensus.Message) []byte {
	var flags byte
	if m.Reject {
		flags |= flagReject
	}
	if m.SnapDone {
		flags |= flagSnapDone
	}
	if m.Snapshot != nil {
		flags |= flagSnapshot
	}
	b = append(b, byte(m.Type), flags)
	for _, v := range [...]uint64{
		uint64(m.Group), uint64(m.From), uint64(m.To), m.Term, m.LogTerm,
		m.Index, m.Commit, m.RejectHint, m.HintTerm, m.SnapOffset,
	} {
		b = binary.AppendUvarint(b, v)
	}
	b = appendBytes(b, m.Context)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		b = binary.AppendUvarint(b, e.Term)
		b = binary.AppendUvarint(b, e.Index)
		b = append(b, byte(e.Type))
		b = appendBytes(b, e.Data)
	}
	if s := m.Snapshot; s != nil {
		b = binary.AppendUvarint(b, s.Index)
		b = binary.AppendUvarint(b, s.Term)
		b = appendIDs(b, s.Conf.Voters)
		b = appendIDs(b, s.Conf.Learners)
	}
	return appendBytes(b, m.SnapData)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendIDs(b []byte, ids []consensus.NodeID) []byte {
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id))
	}
	return b
}

// DecodeMessage decodes one message that occupies all of b. It never
// panics on malformed input and allocates no more than len(b) justifies.
//
// The byte slices of the result (Context, entry Data, SnapData) alias b,
// so the caller must not modify or reuse b while the message is in use.
// Empty slices decode as nil.
func DecodeMessage(b []byte) (consensus.Message, error) {
	d := decoder{b: b}
	typ := consensus.MessageType(d.byte())
	flags := d.byte()
	if d.err != nil {
		return consensus.Message{}, d.err
	}
	if !typ.Valid() {
		return consensus.Message{}, fmt.Errorf("%w: %d", ErrUnknownType, uint8(typ))
	}
	if flags&^flagsKnown != 0 {
		return consensus.Message{}, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	// The calls below run in lexical order (Go spec, order of
	// evaluation), which is the order of the fields on the wire.
	m := consensus.Message{
		Type:       typ,
		Reject:     flags&flagReject != 0,
		SnapDone:   flags&flagSnapDone != 0,
		Group:      consensus.GroupID(d.uvarint()),
		From:       consensus.NodeID(d.uvarint()),
		To:         consensus.NodeID(d.uvarint()),
		Term:       d.uvarint(),
		LogTerm:    d.uvarint(),
		Index:      d.uvarint(),
		Commit:     d.uvarint(),
		RejectHint: d.uvarint(),
		HintTerm:   d.uvarint(),
		SnapOffset: d.uvarint(),
		Context:    d.bytes(),
	}
	if n := d.count(minEntrySize); n > 0 {
		m.Entries = make([]consensus.Entry, n)
		for i := range m.Entries {
			e := &m.Entries[i]
			e.Term = d.uvarint()
			e.Index = d.uvarint()
			e.Type = consensus.EntryType(d.byte())
			// Only the types the core knows: an unknown one means the
			// peers disagree on the format, which must not pass silently.
			if d.err == nil && e.Type > consensus.EntryConfChange {
				d.err = fmt.Errorf("%w: unknown entry type %d", ErrCorrupt, e.Type)
			}
			e.Data = d.bytes()
		}
	}
	if flags&flagSnapshot != 0 {
		m.Snapshot = &consensus.SnapshotMeta{
			Index: d.uvarint(),
			Term:  d.uvarint(),
			Conf: consensus.ConfState{
				Voters:   d.ids(),
				Learners: d.ids(),
			},
		}
	}
	m.SnapData = d.bytes()
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes", ErrTrailingBytes, len(d.b))
	}
	if d.err != nil {
		return consensus.Message{}, d.err
	}
	return m, nil
}

// decoder reads fields from b. The first error sticks: later reads return
// zero values, so DecodeMessage checks once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = ErrTruncated
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.err = ErrTruncated
		return 0
	case n < 0:
		d.err = fmt.Errorf("%w: varint overflows 64 bits", ErrCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed byte string. The result's capacity is
// clipped so an append by the consumer cannot overwrite the next field.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %d-byte field, %d bytes left", ErrTruncated, n, len(d.b))
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads an element count and checks it against the bytes left,
// each element taking at least minSize bytes.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.err = fmt.Errorf("%w: %d elements, %d bytes left", ErrTruncated, n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) ids() []consensus.NodeID {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	ids := make([]consensus.NodeID, n)
	for i := range ids {
		ids[i] = consensus.NodeID(d.uvarint())
	}
	return ids
}
