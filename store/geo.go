package store

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"
)

var geoCommands = []*Command{
	def("geoadd", geoaddCmd),
	def("geodist", geodistCmd),
	def("geohash", geohashCmd),
	def("geopos", geoposCmd),
	def("georadius", func(s *Store, m mode, args [][]byte, out []byte) []byte {
		return geoSearch(s, m, args, out, 1, geoFromCoords)
	}),
	def("georadius_ro", func(s *Store, m mode, args [][]byte, out []byte) []byte {
		return geoSearch(s, m, args, out, 1, geoFromCoords|geoNoStore)
	}),
	def("georadiusbymember", func(s *Store, m mode, args [][]byte, out []byte) []byte {
		return geoSearch(s, m, args, out, 1, geoFromMember)
	}),
	def("georadiusbymember_ro", func(s *Store, m mode, args [][]byte, out []byte) []byte {
		return geoSearch(s, m, args, out, 1, geoFromMember|geoNoStore)
	}),
	def("geosearch", func(s *Store, m mode, args [][]byte, out []byte) []byte {
		return geoSearch(s, m, args, out, 1, geoSearchCmd)
	}),
	def("geosearchstore", func(s *Store, m mode, args [][]byte, out []byte) []byte {
		return geoSearch(s, m, args, out, 2, geoSearchCmd|geoSearchStore)
	}),
}

// Geo commands, following Redis 7.0's geo.c: a geo set is a sorted set
// whose scores are 52-bit geohashes (geohash.go).

const (
	errGeoUnit   = "ERR unsupported unit provided. please use M, KM, FT, MI"
	errGeoMember = "ERR could not decode requested zset member"
)

// geoCoords parses a longitude and a latitude as extractLongLatOrReply;
// msg is the error to reply when they are not valid.
func geoCoords(lonArg, latArg []byte) (lon, lat float64, msg string) {
	lon, ok1 := parseScore(lonArg)
	lat, ok2 := parseScore(latArg)
	if !ok1 || !ok2 {
		return 0, 0, errNotFloat
	}
	if lon < geoLongMin || lon > geoLongMax || lat < geoLatMin || lat > geoLatMax {
		return 0, 0, "ERR invalid longitude,latitude pair " + cFixed6(lon) + "," + cFixed6(lat)
	}
	return lon, lat, ""
}

// cFixed6 is C's "%f".
func cFixed6(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// geoUnit is extractUnitOrReply: the unit's size in metres, or 0.
func geoUnit(b []byte) float64 {
	switch {
	case eqFold(b, "m"):
		return 1
	case eqFold(b, "km"):
		return 1000
	case eqFold(b, "ft"):
		return 0.3048
	case eqFold(b, "mi"):
		return 1609.34
	}
	return 0
}

// geoScore is the score GEOADD gives a position: its 26-step geohash.
func geoScore(lon, lat float64) uint64 {
	h, _ := geoEncode(wgs84Lon, wgs84Lat, lon, lat, geoStepMax)
	return geoAlign52(h)
}

// geoaddCmd is GEOADD key [NX|XX] [CH] lon lat member ...: Redis turns it
// into a ZADD of the members' geohash scores, and so does rkv.
func geoaddCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	idx, nx, xx := 2, false, false
opts:
	for ; idx < len(args); idx++ {
		switch a := args[idx]; {
		case eqFold(a, "nx"):
			nx = true
		case eqFold(a, "xx"):
			xx = true
		case eqFold(a, "ch"):
		default:
			break opts
		}
	}
	if (len(args)-idx)%3 != 0 || nx && xx {
		return appendErr(out, errSyntax)
	}
	zargs := make([][]byte, 0, idx+(len(args)-idx)/3*2)
	zargs = append(zargs, []byte("zadd"))
	zargs = append(zargs, args[1:idx]...)
	for i := idx; i < len(args); i += 3 {
		lon, lat, msg := geoCoords(args[i], args[i+1])
		if msg != "" {
			return appendErr(out, msg)
		}
		zargs = append(zargs, strconv.AppendUint(nil, geoScore(lon, lat), 10), args[i+2])
	}
	return zaddGeneric(s, m, zargs, out, 0)
}

func geodistCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	toMeter := 1.0
	switch {
	case len(args) == 5:
		if toMeter = geoUnit(args[4]); toMeter == 0 {
			return appendErr(out, errGeoUnit)
		}
	case len(args) > 5:
		return appendErr(out, errSyntax)
	}
	_, z, found, wrong := s.getZset(m, args[1])
	switch {
	case !found:
		return append(out, nullReply...)
	case wrong:
		return appendErr(out, errWrongType)
	}
	s1, ok1 := z.score(b2s(args[2]))
	s2, ok2 := z.score(b2s(args[3]))
	if !ok1 || !ok2 {
		return append(out, nullReply...)
	}
	lon1, lat1 := geoDecodeScore(s1)
	lon2, lat2 := geoDecodeScore(s2)
	return appendGeoDistance(out, geoDistance(lon1, lat1, lon2, lat2)/toMeter)
}

// geoAlphabet is the standard geohash's base 32.
const geoAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

// eachMemberScore calls fn with each member's score, ok false for a
// member the sorted set (found: there is one) does not hold.
func eachMemberScore(z *zset, found bool, members [][]byte, fn func(sc float64, ok bool)) {
	for _, a := range members {
		var sc float64
		ok := found
		if ok {
			sc, ok = z.score(b2s(a))
		}
		fn(sc, ok)
	}
}

func geohashCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	out = redcon.AppendArray(out, len(args)-2)
	eachMemberScore(z, found, args[2:], func(sc float64, ok bool) {
		if !ok {
			out = append(out, nullReply...)
			return
		}
		// The standard geohash spans latitudes -90..90, not Redis's
		// Mercator limits: decode, then encode again over those.
		lon, lat := geoDecodeScore(sc)
		h, _ := geoEncode(geoRange{-180, 180}, geoRange{-90, 90}, lon, lat, geoStepMax)
		var buf [11]byte
		for i := range 10 {
			buf[i] = geoAlphabet[(h.bits>>(52-(i+1)*5))&0x1f]
		}
		// 52 bits make ten characters; the eleventh is always '0'.
		buf[10] = geoAlphabet[0]
		out = redcon.AppendBulk(out, buf[:])
	})
	return out
}

func geoposCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	out = redcon.AppendArray(out, len(args)-2)
	eachMemberScore(z, found, args[2:], func(sc float64, ok bool) {
		if !ok {
			out = append(out, nullArray...)
			return
		}
		lon, lat := geoDecodeScore(sc)
		out = redcon.AppendArray(out, 2)
		out = appendHumanDouble(out, lon)
		out = appendHumanDouble(out, lat)
	})
	return out
}

// appendGeoDistance replies a distance with four decimals, rounded half to
// even, as Redis's fixedpoint_d2string does.
func appendGeoDistance(out []byte, d float64) []byte {
	v := cInt64(math.RoundToEven(d * 10000))
	var b []byte
	if v < 0 {
		b = append(b, '-')
	}
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	b = strconv.AppendUint(b, u/10000, 10)
	b = append(b, '.')
	frac := strconv.FormatUint(u%10000, 10)
	b = append(b, "0000"[len(frac):]...)
	b = append(b, frac...)
	return redcon.AppendBulk(out, b)
}

// appendHumanDouble replies a coordinate as Redis's addReplyHumanLongDouble
// in RESP2: "%.17Lf" without trailing zeros.
func appendHumanDouble(out []byte, f float64) []byte {
	s := strconv.FormatFloat(f, 'f', 17, 64)
	s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return redcon.AppendBulkString(out, s)
}

// cInt64 converts as C's (long long) cast of a double does on x86-64:
// NaN and out-of-range values give the integer-indefinite value.
func cInt64(f float64) int64 {
	const two63 = 9223372036854775808.0
	if math.IsNaN(f) || f >= two63 || f < -two63 {
		return math.MinInt64
	}
	return int64(f)
}

// Kinds of search, as Redis's RADIUS_* and GEOSEARCH flags.
const (
	geoFromCoords  = 1 << iota // GEORADIUS: centre lon lat, radius unit
	geoFromMember              // GEORADIUSBYMEMBER: centre member, radius unit
	geoNoStore                 // the _RO variants: no STORE or STOREDIST
	geoSearchCmd               // GEOSEARCH's FROM... and BY... options
	geoSearchStore             // GEOSEARCHSTORE: destination at args[1]
)

// Sort orders of a search's results.
const (
	geoUnsorted = iota
	geoAsc
	geoDesc
)

// geoPoint is one result of a search.
type geoPoint struct {
	lon, lat, dist, score float64
	member                string
}

// geoOptions are a search's options, as georadiusGeneric parses them.
type geoOptions struct {
	shape                         geoShape
	withDist, withHash, withCoord bool
	fromMember, fromLoc, byRadius bool
	byBox, any, storeDist         bool
	sort                          int
	count                         int64
	storeKey                      []byte
}

// geoSearch is Redis's georadiusGeneric, behind GEORADIUS, GEOSEARCH and
// their variants: the source key is args[src].
func geoSearch(s *Store, m mode, args [][]byte, out []byte, src int, flags int) []byte {
	_, z, found, wrong := s.getZset(m, args[src])
	if wrong {
		return appendErr(out, errWrongType)
	}
	var o geoOptions
	base := 2
	switch {
	case flags&geoFromCoords != 0:
		base = 6
		o.shape.typ = geoCircle
		var msg string
		if o.shape.lon, o.shape.lat, msg = geoCoords(args[2], args[3]); msg != "" {
			return appendErr(out, msg)
		}
		if msg = o.shape.parseRadius(args[4:6]); msg != "" {
			return appendErr(out, msg)
		}
	case flags&geoFromMember != 0:
		base = 5
		if found {
			o.shape.typ = geoCircle
			sc, ok := z.score(b2s(args[2]))
			if !ok {
				return appendErr(out, errGeoMember)
			}
			o.shape.lon, o.shape.lat = geoDecodeScore(sc)
			if msg := o.shape.parseRadius(args[3:5]); msg != "" {
				return appendErr(out, msg)
			}
		}
	case flags&geoSearchStore != 0:
		base = 3
		o.storeKey = args[1]
	}
	if msg := o.parse(args, base, flags, z); msg != "" {
		return appendErr(out, msg)
	}
	if !found {
		if o.storeKey != nil {
			return s.storeResult(m, o.storeKey, newZset(false), out)
		}
		return append(out, emptyArray...)
	}
	// COUNT without an order keeps the nearest, unless ANY.
	if o.count != 0 && o.sort == geoUnsorted && !o.any {
		o.sort = geoAsc
	}
	limit := 0
	if o.any {
		limit = int(min(o.count, math.MaxInt32))
	}
	pts := geoCollect(z, &o.shape, limit)
	if len(pts) == 0 && o.storeKey == nil {
		return append(out, emptyArray...)
	}
	n := len(pts)
	if o.count != 0 && int64(n) > o.count {
		n = int(o.count)
	}
	geoSortPoints(pts, o.sort, n)
	pts = pts[:n]
	for i := range pts {
		pts[i].dist /= o.shape.conversion
	}
	if o.storeKey != nil {
		return geoStore(s, m, o.storeKey, pts, o.storeDist, out)
	}
	return o.reply(out, pts)
}

// parseRadius reads "radius unit" as extractDistanceOrReply.
func (sh *geoShape) parseRadius(args [][]byte) string {
	r, ok := parseScore(args[0])
	switch {
	case !ok:
		return "ERR need numeric radius"
	case r < 0:
		return "ERR radius cannot be negative"
	}
	sh.radius = r
	if sh.conversion = geoUnit(args[1]); sh.conversion == 0 {
		return errGeoUnit
	}
	return ""
}

// parseBox reads "width height unit" as extractBoxOrReply.
func (sh *geoShape) parseBox(args [][]byte) string {
	w, ok := parseScore(args[0])
	if !ok {
		return "ERR need numeric width"
	}
	h, ok := parseScore(args[1])
	switch {
	case !ok:
		return "ERR need numeric height"
	case h < 0 || w < 0:
		return "ERR height or width cannot be negative"
	}
	sh.width, sh.height = w, h
	if sh.conversion = geoUnit(args[2]); sh.conversion == 0 {
		return errGeoUnit
	}
	return ""
}

// parse reads the options after args[base] and checks how they combine,
// in Redis's order; z is the source, nil when missing.
func (o *geoOptions) parse(args [][]byte, base, flags int, z *zset) string {
	search := flags&geoSearchCmd != 0
	canStore := flags&(geoNoStore|geoSearchCmd) == 0
	left := func(i, k int) bool { return i+k < len(args) }
	for i := base; i < len(args); i++ {
		a := args[i]
		switch {
		case eqFold(a, "withdist"):
			o.withDist = true
		case eqFold(a, "withhash"):
			o.withHash = true
		case eqFold(a, "withcoord"):
			o.withCoord = true
		case eqFold(a, "any"):
			o.any = true
		case eqFold(a, "asc"):
			o.sort = geoAsc
		case eqFold(a, "desc"):
			o.sort = geoDesc
		case eqFold(a, "count") && left(i, 1):
			c, ok := parseInt(b2s(args[i+1]))
			if !ok {
				return errNotInt
			}
			if c <= 0 {
				return "ERR COUNT must be > 0"
			}
			o.count = c
			i++
		case (eqFold(a, "store") || eqFold(a, "storedist")) && left(i, 1) && canStore:
			o.storeKey = args[i+1]
			o.storeDist = len(a) == len("storedist")
			i++
		case eqFold(a, "storedist") && flags&geoSearchStore != 0:
			o.storeDist = true
		case eqFold(a, "frommember") && left(i, 1) && search && !o.fromLoc:
			if z != nil {
				sc, ok := z.score(b2s(args[i+1]))
				if !ok {
					return errGeoMember
				}
				o.shape.lon, o.shape.lat = geoDecodeScore(sc)
			}
			o.fromMember = true
			i++
		case eqFold(a, "fromlonlat") && left(i, 2) && search && !o.fromMember:
			var msg string
			if o.shape.lon, o.shape.lat, msg = geoCoords(args[i+1], args[i+2]); msg != "" {
				return msg
			}
			o.fromLoc = true
			i += 2
		case eqFold(a, "byradius") && left(i, 2) && search && !o.byBox:
			if msg := o.shape.parseRadius(args[i+1 : i+3]); msg != "" {
				return msg
			}
			o.shape.typ = geoCircle
			o.byRadius = true
			i += 2
		case eqFold(a, "bybox") && left(i, 3) && search && !o.byRadius:
			if msg := o.shape.parseBox(args[i+1 : i+4]); msg != "" {
				return msg
			}
			o.shape.typ = geoBox
			o.byBox = true
			i += 3
		default:
			return errSyntax
		}
	}
	switch {
	case o.storeKey != nil && (o.withDist || o.withHash || o.withCoord):
		what := "STORE option in GEORADIUS"
		if flags&geoSearchStore != 0 {
			what = "GEOSEARCHSTORE"
		}
		return "ERR " + what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
	case search && !o.fromMember && !o.fromLoc:
		return fmt.Sprintf("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s", cString(args[0]))
	case search && !o.byRadius && !o.byBox:
		return fmt.Sprintf("ERR exactly one of BYRADIUS and BYBOX can be specified for %s", cString(args[0]))
	case o.any && o.count == 0:
		return "ERR the ANY argument requires COUNT argument"
	}
	return ""
}

// geoCollect is membersOfAllNeighbors: the members inside the shape, box
// after box, each box's in score order; limit > 0 stops at that many.
func geoCollect(z *zset, sh *geoShape, limit int) []geoPoint {
	boxes := geoAreas(sh)
	var pts []geoPoint
	full := func() bool { return limit > 0 && len(pts) >= limit }
	last := 0
	for i, h := range boxes {
		if h.isZero() {
			continue
		}
		// Huge radii make neighbours coincide: a box equal to the one
		// searched just before is skipped. (Index 0 never counts as
		// "just before", as in Redis.)
		if last != 0 && h == boxes[last] {
			continue
		}
		if full() {
			break
		}
		lo := geoAlign52(h)
		h.bits++
		sp := scoreSpan{min: float64(lo), max: float64(geoAlign52(h)), maxEx: true}
		if i0 := z.firstIn(&sp); i0 >= 0 {
			z.walk(i0, false, func(mem string, sc float64) bool {
				if !sp.lteMax(mem, sc) {
					return false
				}
				lon, lat := geoDecodeScore(sc)
				if d, ok := sh.within(lon, lat); ok {
					pts = append(pts, geoPoint{lon, lat, d, sc, mem})
				}
				return !full()
			})
		}
		last = i
	}
	return pts
}

// geoSortPoints orders the results by distance as Redis does: a stable
// sort (glibc's qsort is a merge sort) when all are kept, else its partial
// quicksort of the first n.
func geoSortPoints(pts []geoPoint, order, n int) {
	if order == geoUnsorted || len(pts) == 0 {
		return
	}
	cmp := func(a, b *geoPoint) int {
		c := 0
		switch {
		case a.dist > b.dist:
			c = 1
		case a.dist < b.dist:
			c = -1
		}
		if order == geoDesc {
			c = -c
		}
		return c
	}
	if n == len(pts) {
		slices.SortStableFunc(pts, func(a, b geoPoint) int { return cmp(&a, &b) })
		return
	}
	geoPartialSort(pts, cmp, 0, n-1)
}

// geoStore saves the results as a sorted set at key, scored by geohash or
// (STOREDIST) by distance, and replies their number.
func geoStore(s *Store, m mode, key []byte, pts []geoPoint, byDist bool, out []byte) []byte {
	entries := make([]zentry, len(pts))
	for i, p := range pts {
		sc := p.score
		if byDist {
			sc = p.dist
		}
		entries[i] = zentry{sc, p.member}
	}
	slices.SortFunc(entries, func(a, b zentry) int {
		if zentryLess(a, b) {
			return -1
		}
		return 1
	})
	return s.storeResult(m, key, buildZset(entries, &s.enc), out)
}

// reply sends the results: members alone, or each with its distance,
// hash and coordinates as asked.
func (o *geoOptions) reply(out []byte, pts []geoPoint) []byte {
	extra := 0
	for _, w := range []bool{o.withDist, o.withHash, o.withCoord} {
		if w {
			extra++
		}
	}
	out = redcon.AppendArray(out, len(pts))
	for _, p := range pts {
		if extra > 0 {
			out = redcon.AppendArray(out, extra+1)
		}
		out = appendBulk(out, p.member)
		if o.withDist {
			out = appendGeoDistance(out, p.dist)
		}
		if o.withHash {
			out = appendInt(out, cInt64(p.score))
		}
		if o.withCoord {
			out = redcon.AppendArray(out, 2)
			out = appendHumanDouble(out, p.lon)
			out = appendHumanDouble(out, p.lat)
		}
	}
	return out
}
