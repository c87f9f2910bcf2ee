package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Encoding settings: the thresholds at which Redis 7.0 turns a compact
// encoding into a general one (hash-max-listpack-entries and the others
// CONFIG SET changes). They decide what OBJECT ENCODING answers and when a
// value converts, so they are replicated state: changed only by an
// OpConfig entry from the log, kept in snapshots and in the digest.
type encSetting uint8

const (
	encHashEntries encSetting = iota
	encHashValue
	encListSize
	encListCompress
	encSetIntset
	encZsetEntries
	encZsetValue
	encStreamBytes
	encStreamEntries
	encHLLSparse
	// encNotify is notify-keyspace-events, as its flag bits: not an
	// encoding, but it decides which events an entry yields on every
	// replica, so it is replicated the same way (notify.go).
	encNotify
	numEncSettings
)

// encSpec is one setting as Redis 7.0's config.c declares it: its name,
// its alias, its range and default, and whether it is a memory value
// ("1kb" accepted).
type encSpec struct {
	name, alias string
	lo, hi, def int64
	memory      bool
}

var encSpecs = [numEncSettings]encSpec{
	encHashEntries:   {"hash-max-listpack-entries", "hash-max-ziplist-entries", 0, math.MaxInt64, hashMaxListpackEntries, false},
	encHashValue:     {"hash-max-listpack-value", "hash-max-ziplist-value", 0, math.MaxInt64, hashMaxListpackValue, true},
	encListSize:      {"list-max-listpack-size", "list-max-ziplist-size", math.MinInt32, math.MaxInt32, -2, false},
	encListCompress:  {"list-compress-depth", "", 0, math.MaxInt32, 0, false},
	encSetIntset:     {"set-max-intset-entries", "", 0, math.MaxInt64, maxIntsetEntries, false},
	encZsetEntries:   {"zset-max-listpack-entries", "zset-max-ziplist-entries", 0, math.MaxInt64, zsetMaxListpackEntries, false},
	encZsetValue:     {"zset-max-listpack-value", "zset-max-ziplist-value", 0, math.MaxInt64, zsetMaxListpackValue, true},
	encStreamBytes:   {"stream-node-max-bytes", "", 0, math.MaxInt64, streamNodeMaxBytes, true},
	encStreamEntries: {"stream-node-max-entries", "", 0, math.MaxInt64, streamNodeMaxEntries, false},
	encHLLSparse:     {"hll-sparse-max-bytes", "", 0, math.MaxInt64, hllDefaultSparseMax, true},
	encNotify:        {"notify-keyspace-events", "", 0, notifyMask, 0, false},
}

// encodings holds the current value of each setting.
type encodings [numEncSettings]int64

func defaultEncodings() encodings {
	var e encodings
	for i, sp := range encSpecs {
		e[i] = sp.def
	}
	return e
}

// lpCountMax is the most pairs a hash listpack counts: a setting above it
// acts as it.
const lpCountMax = 1<<16 - 1

func (e *encodings) hashEntries() int64 { return min(e[encHashEntries], lpCountMax) }
func (e *encodings) hashValue() int     { return int(e[encHashValue]) }
func (e *encodings) zsetEntries() int64 { return e[encZsetEntries] }
func (e *encodings) zsetValue() int     { return int(e[encZsetValue]) }
func (e *encodings) setIntset() int64   { return min(e[encSetIntset], 1<<30) } // as setTypeAdd caps it

// hllSparse is hll-sparse-max-bytes: a sparse HyperLogLog that would grow
// past it turns dense.
func (e *encodings) hllSparse() int { return int(e[encHLLSparse]) }

func lookupEncSetting(name string) (encSetting, bool) {
	for i, sp := range encSpecs {
		if strings.EqualFold(name, sp.name) || sp.alias != "" && strings.EqualFold(name, sp.alias) {
			return encSetting(i), true
		}
	}
	return 0, false
}

// CheckEncodingSetting parses value for the encoding setting name as
// Redis's CONFIG SET does. It returns the setting's canonical name and the
// value in decimal, the arguments of an OpConfig entry, or Redis's
// complaint about the value.
func CheckEncodingSetting(name, value string) (canonical, decimal, complaint string) {
	id, ok := lookupEncSetting(name)
	if !ok {
		return "", "", "unknown setting"
	}
	sp := encSpecs[id]
	if id == encNotify {
		// The entry carries the letters: configCmd parses them again.
		if _, ok := parseNotifyFlags(value); !ok {
			return "", "", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
		}
		return sp.name, value, ""
	}
	n, ok := ParseConfigNumber(value, sp.memory)
	switch {
	case !ok && sp.memory:
		return "", "", "argument must be a memory value"
	case !ok:
		return "", "", "argument couldn't be parsed into an integer"
	case n < sp.lo || n > sp.hi:
		return "", "", fmt.Sprintf("argument must be between %d and %d inclusive", sp.lo, sp.hi)
	}
	return sp.name, strconv.FormatInt(n, 10), ""
}

// ParseConfigNumber reads a CONFIG parameter's integer as Redis's
// string2ll, or for a memory parameter as its memtoull: digits and an
// optional unit, where no digits read as 0 and an overflow wraps, as in C.
func ParseConfigNumber(v string, memory bool) (int64, bool) {
	if !memory {
		return parseInt(v)
	}
	digits := strings.TrimLeft(v, "0123456789")
	num := v[:len(v)-len(digits)]
	muls := map[string]uint64{"": 1, "b": 1, "k": 1e3, "kb": 1 << 10, "m": 1e6, "mb": 1 << 20, "g": 1e9, "gb": 1 << 30}
	mul, ok := muls[strings.ToLower(digits)]
	if !ok {
		return 0, false
	}
	var n uint64
	if num != "" {
		var err error
		if n, err = strconv.ParseUint(num, 10, 64); err != nil {
			n = math.MaxUint64 // strtoull's ERANGE, which memtoull ignores
		}
	}
	return int64(n * mul), true
}

// EncodingSettings returns every encoding setting, under its name and its
// alias, in decimal: what CONFIG GET answers.
func (s *Store) EncodingSettings() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]string, 2*numEncSettings)
	for i, sp := range encSpecs {
		v := strconv.FormatInt(s.enc[i], 10)
		if encSetting(i) == encNotify {
			v = formatNotifyFlags(s.enc[i])
		}
		out[sp.name] = v
		if sp.alias != "" {
			out[sp.alias] = v
		}
	}
	return out
}

// configCmd applies an OpConfig entry: pairs of a setting's name and its
// value, which the leader checked with CheckEncodingSetting. They are
// checked again, all before any takes effect, so a malformed entry
// changes nothing on every replica alike. Values already converted stay
// as they are, as in Redis.
func (s *Store) configCmd(args [][]byte, out []byte) []byte {
	if len(args) == 0 || len(args)%2 != 0 {
		return appendErr(out, "ERR malformed config entry")
	}
	next := s.enc
	for i := 0; i < len(args); i += 2 {
		name, v, msg := CheckEncodingSetting(string(args[i]), string(args[i+1]))
		if msg != "" {
			return appendErr(out, "ERR malformed config entry: "+msg)
		}
		id, _ := lookupEncSetting(name)
		if id == encNotify {
			next[id], _ = parseNotifyFlags(v)
			continue
		}
		next[id], _ = strconv.ParseInt(v, 10, 64)
	}
	s.enc = next
	return append(out, "+OK\r\n"...)
}

// appendChanged lists the settings that differ from their defaults, each
// as its name and value: a snapshot's and the digest's part of them.
func (e *encodings) appendChanged(b []byte) []byte {
	var n uint64
	for i, sp := range encSpecs {
		if e[i] != sp.def {
			n++
		}
	}
	b = binary.AppendUvarint(b, n)
	for i, sp := range encSpecs {
		if e[i] != sp.def {
			b = binary.AppendUvarint(b, uint64(len(sp.name)))
			b = append(b, sp.name...)
			b = binary.AppendVarint(b, e[i])
		}
	}
	return b
}

// loadEncodings reads what appendChanged wrote into s.enc.
func (s *Store) loadEncodings(sr *snapReader) error {
	n, err := sr.uvarint()
	if err != nil {
		return err
	}
	if n > uint64(numEncSettings) {
		return fmt.Errorf("%w: %d encoding settings", ErrCorrupt, n)
	}
	for range n {
		l, err := sr.uvarint()
		if err != nil {
			return err
		}
		if err := sr.bytes(l, false); err != nil {
			return err
		}
		id, ok := lookupEncSetting(string(sr.scratch))
		if !ok {
			return fmt.Errorf("%w: unknown encoding setting %q", ErrCorrupt, sr.scratch)
		}
		v, err := sr.varint()
		if err != nil {
			return err
		}
		if sp := encSpecs[id]; v < sp.lo || v > sp.hi {
			return fmt.Errorf("%w: %s out of range", ErrCorrupt, sp.name)
		}
		s.enc[id] = v
	}
	return nil
}
