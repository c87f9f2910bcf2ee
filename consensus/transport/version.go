package transport

import (
	"errors"
	"fmt"

	"github.com/rkv/rkv/consensus"
)

// ErrVersion means a peer and this node speak no bus version in common.
var ErrVersion = errors.New("transport: no bus version in common")

// baseVersion is the version releases before negotiation spoke, alone:
// its hello names only it. It needs no lowest version, so its hello stays
// the 45 bytes those releases read.
const baseVersion = 2

// codec is the message encoding of one wire version.
type codec struct {
	encode func(b []byte, m *consensus.Message) []byte
	decode func(b []byte) (consensus.Message, error)
}

// versions is a contiguous range of wire versions with the codec of each:
// codecs[i] is version lo+i.
type versions struct {
	lo     uint8
	codecs []codec
}

// codecV2 is the encoding of version 2, EncodeMessage's.
var codecV2 = codec{EncodeMessage, DecodeMessage}

// baseOnly speaks baseVersion alone.
var baseOnly = versions{lo: baseVersion, codecs: []codec{codecV2}}

// spoken is what this build speaks. A release that adds a version keeps
// the previous release's highest, and offers it in a hello that release
// reads, so that the two meet during a rolling upgrade; a version can go
// once the release after it is out.
var spoken = baseOnly

func (vs versions) hi() uint8 { return vs.lo + uint8(len(vs.codecs)) - 1 }

func (vs versions) speaks(v uint8) bool { return v >= vs.lo && v <= vs.hi() }

// codec returns version v's codec; v must be one vs speaks.
func (vs versions) codec(v uint8) codec { return vs.codecs[v-vs.lo] }

// common returns the highest version both vs and lo..hi speak, and false
// if they share none.
func (vs versions) common(lo, hi uint8) (uint8, bool) {
	v := min(vs.hi(), hi)
	return v, v >= max(vs.lo, lo)
}

func (vs versions) String() string { return versionRange(vs.lo, vs.hi()) }

func versionRange(lo, hi uint8) string { return fmt.Sprintf("%d..%d", lo, hi) }
