package integration

import (
	"strconv"
	"strings"
)

// The geo family: GEOADD, GEODIST, GEOHASH, GEOPOS and every search
// (GEORADIUS, GEORADIUSBYMEMBER, their _RO forms, GEOSEARCH and
// GEOSEARCHSTORE) with valid and invalid arguments, on the shared keys.
// Positions cluster around a few centres (an ordinary place, both poles'
// Mercator limits, the antimeridian, the equator) so that searches find
// many members, and some members share a position so that equal distances
// test the order of ties (Redis's partial quicksort under COUNT). ZADD of
// arbitrary scores makes members whose score is no geohash, which every
// command must decode as Redis does. Distances and coordinates are
// compared as the strings Redis formats; what the searches store, and
// every geo key, is compared by the zset family's state (encoding, members
// and scores).

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "geo", gen: geoGen})
}

// geoCentres are the centres positions cluster around.
var geoCentres = [][2]float64{
	{13.361389, 38.115556}, {15.087269, 37.502669}, {-179.9, 0.5}, {179.95, -10},
	{0, 85}, {-73.9, -84.9}, {2.35, 48.85}, {0, 0},
}

var geoMembers = []string{"Palermo", "Catania", "a", "b", "c", "", "é", "m\x00", strings.Repeat("x", 65)}

// geoBadCoords are longitudes or latitudes Redis refuses, out of range or
// not numbers.
var geoBadCoords = []string{"181", "-180.0001", "85.06", "-86", "abc", "", "inf", "-inf", "nan", "1e400", " 1", "0x"}

var geoUnits = []string{"m", "km", "mi", "ft", "M", "KM", "Mi", "fT", "x", "", "meters"}

var geoRadii = []string{"100", "200", "500", "1000", "1000", "5000", "50", "10", "0", "1", "0.5", "20000000", "inf"}

var geoCounts = []string{"1", "2", "3", "5", "8", "10", "20", "100", "9223372036854775807"}

var geoBadCounts = []string{"0", "-1", "abc", "", "1.5"}

var geoArbitraryScores = []string{"0", "1", "-1", "1.5", "1e300", "-1e300", "inf", "-inf", "4503599627370496", "4503599627370495", "3471579339700058"}

// geoKey is mostly one of two keys (with a hash tag in common, for the
// STORE destinations), so that searches meet the sets GEOADD made.
func (g *diffGen) geoKey() string {
	if g.rng.IntN(4) == 0 {
		return g.key()
	}
	return g.pick([]string{"{t}a", "{t}b"})
}

func (g *diffGen) geoMember() string {
	if g.rng.IntN(2) == 0 {
		return "m" + strconv.Itoa(g.rng.IntN(40))
	}
	return g.pick(geoMembers)
}

// geoCoord is a longitude and latitude near a centre; sometimes exactly
// the centre (ties), rarely invalid.
func (g *diffGen) geoCoord() (string, string) {
	if g.rng.IntN(30) == 0 {
		if g.rng.IntN(2) == 0 {
			return g.pick(geoBadCoords), "10"
		}
		return "10", g.pick(geoBadCoords)
	}
	return g.geoValidCoord()
}

func (g *diffGen) geoValidCoord() (string, string) {
	// Mostly the first centre, so that searches find what was added.
	c := geoCentres[0]
	if g.rng.IntN(5) < 2 {
		c = geoCentres[g.rng.IntN(len(geoCentres))]
	}
	if g.rng.IntN(5) == 0 {
		return strconv.FormatFloat(c[0], 'f', -1, 64), strconv.FormatFloat(c[1], 'f', -1, 64)
	}
	spread := []float64{0.001, 0.05, 0.5, 3}[g.rng.IntN(4)]
	lon := min(max(c[0]+(g.rng.Float64()*2-1)*spread, -180), 180)
	lat := min(max(c[1]+(g.rng.Float64()*2-1)*spread, -85.05112878), 85.05112878)
	return strconv.FormatFloat(lon, 'f', 6, 64), strconv.FormatFloat(lat, 'f', 6, 64)
}

func (g *diffGen) geoRadius() []string {
	unit := "km"
	if g.rng.IntN(3) == 0 {
		unit = g.pick(geoUnits)
	}
	r := g.pick(geoRadii)
	if g.rng.IntN(12) == 0 {
		r = g.pick([]string{"abc", "-5", "", "1e400", "nan"})
	}
	return []string{r, unit}
}

// geoSearchOpts appends a search's options in random order: the WITH
// flags, an order, COUNT [ANY], ANY alone, and for GEORADIUS a STORE or
// STOREDIST (or, for GEOSEARCHSTORE, STOREDIST).
func (g *diffGen) geoSearchOpts(args []string, store string) []string {
	var opts [][]string
	for range g.rng.IntN(4) {
		switch g.rng.IntN(13) {
		case 0:
			opts = append(opts, []string{g.word("WITHDIST")})
		case 1:
			opts = append(opts, []string{g.word("WITHCOORD")})
		case 2:
			opts = append(opts, []string{g.word("WITHHASH")})
		case 3, 4:
			opts = append(opts, []string{g.word(g.pick([]string{"ASC", "DESC"}))})
		case 5, 6:
			o := []string{g.word("COUNT"), g.pick(geoCounts)}
			if g.rng.IntN(10) == 0 {
				o[1] = g.pick(geoBadCounts)
			}
			if g.rng.IntN(3) == 0 {
				o = append(o, g.word("ANY"))
			}
			opts = append(opts, o)
		case 7:
			opts = append(opts, []string{g.word("ANY")})
		case 8, 9:
			switch store {
			case "radius":
				opts = append(opts, []string{g.word(g.pick([]string{"STORE", "STOREDIST"})), g.geoKey()})
			case "search":
				opts = append(opts, []string{g.word("STOREDIST")})
			}
		case 10:
			if g.rng.IntN(2) == 0 {
				opts = append(opts, []string{g.pick([]string{"FOO", "STORE", "COUNT", "BYBOX", "FROMMEMBER"})})
			}
		default:
			opts = append(opts, []string{g.word("COUNT"), g.pick([]string{"3", "8", "12"})})
		}
	}
	for _, o := range opts {
		args = append(args, o...)
	}
	return args
}

func geoGen(g *diffGen) diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(200); {
	default:
		args := []string{w("GEOADD"), g.geoKey()}
		for range g.rng.IntN(3) {
			args = append(args, w(g.pick([]string{"NX", "XX", "CH", "CH", "CH"})))
		}
		if g.rng.IntN(40) == 0 {
			args = append(args, w("GT")) // not a GEOADD option
		}
		for range 1 + g.rng.IntN(4) {
			lon, lat := g.geoCoord()
			args = append(args, lon, lat, g.geoMember())
		}
		if g.rng.IntN(30) == 0 {
			args = args[:len(args)-1] // a member short
		}
		return exact(args...)
	case r < 6:
		// Many members: past the listpack's 128 entries, one encoding
		// conversion, large searches.
		// Half the time on a few spots only: many equal distances.
		args := []string{w("GEOADD"), g.geoKey()}
		spots := g.rng.IntN(2) * (1 + g.rng.IntN(4))
		var fixed [][2]string
		for range spots {
			lon, lat := g.geoValidCoord()
			fixed = append(fixed, [2]string{lon, lat})
		}
		for range 20 + g.rng.IntN(150) {
			lon, lat := g.geoValidCoord()
			if spots > 0 {
				p := fixed[g.rng.IntN(spots)]
				lon, lat = p[0], p[1]
			}
			args = append(args, lon, lat, "m"+strconv.Itoa(g.rng.IntN(200)))
		}
		return exact(args...)
	case r < 16:
		args := []string{w("GEODIST"), g.geoKey(), g.geoMember(), g.geoMember()}
		switch g.rng.IntN(4) {
		case 0, 1:
			args = append(args, g.pick(geoUnits))
		case 2:
			args = append(args, "km", "x")
		}
		return exact(args...)
	case r < 24:
		args := []string{w(g.pick([]string{"GEOHASH", "GEOPOS"})), g.geoKey()}
		for range g.rng.IntN(4) {
			args = append(args, g.geoMember())
		}
		return exact(args...)
	case r < 52:
		name := g.pick([]string{"GEORADIUS", "GEORADIUS", "GEORADIUS_RO"})
		lon, lat := g.geoCoord()
		args := append([]string{w(name), g.geoKey(), lon, lat}, g.geoRadius()...)
		store := "radius"
		if name == "GEORADIUS_RO" {
			store = ""
		}
		return exact(g.geoSearchOpts(args, store)...)
	case r < 72:
		name := g.pick([]string{"GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"})
		args := append([]string{w(name), g.geoKey(), g.geoMember()}, g.geoRadius()...)
		store := "radius"
		if name == "GEORADIUSBYMEMBER_RO" {
			store = ""
		}
		return exact(g.geoSearchOpts(args, store)...)
	case r < 112:
		args := []string{w("GEOSEARCH"), g.geoKey()}
		store := ""
		if g.rng.IntN(3) == 0 {
			args = []string{w("GEOSEARCHSTORE"), g.geoKey(), g.geoKey()}
			store = "search"
		}
		return exact(g.geoSearchOpts(g.geoFromBy(args), store)...)
	case r < 124:
		// Scores that are no geohash, read back by the geo commands.
		return exact(w("ZADD"), g.geoKey(), g.pick(geoArbitraryScores), g.geoMember())
	case r < 128:
		return exact(w("ZRANGE"), g.geoKey(), "0", "-1", w("WITHSCORES"))
	case r < 140:
		// The string family makes strings of the keys; deletions make
		// room for geo sets again.
		key := g.key()
		if g.rng.IntN(2) == 0 {
			key = g.geoKey()
		}
		return exact(w(g.pick([]string{"DEL", "UNLINK"})), key)
	case r < 148:
		return geoWrongArity(g)
	}
}

// geoFromBy appends GEOSEARCH's centre and shape: usually one of each,
// sometimes none, both, or a bad one.
func (g *diffGen) geoFromBy(args []string) []string {
	from := func() []string {
		if g.rng.IntN(2) == 0 {
			return []string{g.word("FROMMEMBER"), g.geoMember()}
		}
		lon, lat := g.geoCoord()
		return []string{g.word("FROMLONLAT"), lon, lat}
	}
	by := func() []string {
		if g.rng.IntN(2) == 0 {
			return append([]string{g.word("BYRADIUS")}, g.geoRadius()...)
		}
		dims := []string{"1", "10", "100", "400", "2000", "0", "0.5", "40000"}
		wd, ht := g.pick(dims), g.pick(dims)
		if g.rng.IntN(10) == 0 {
			wd = g.pick([]string{"-1", "abc", ""})
		}
		if g.rng.IntN(10) == 0 {
			ht = g.pick([]string{"-1", "abc", ""})
		}
		unit := "km"
		if g.rng.IntN(3) == 0 {
			unit = g.pick(geoUnits)
		}
		return []string{g.word("BYBOX"), wd, ht, unit}
	}
	parts := [][]string{from(), by()}
	switch g.rng.IntN(12) {
	case 0:
		parts = parts[1:]
	case 1:
		parts = parts[:1]
	case 2:
		parts = append(parts, from())
	case 3:
		parts = append(parts, by())
	}
	if g.rng.IntN(2) == 0 {
		parts[0], parts[len(parts)-1] = parts[len(parts)-1], parts[0]
	}
	for _, p := range parts {
		args = append(args, p...)
	}
	return args
}

// geoArities are the family's commands and their Redis 7.0 arities.
var geoArities = []struct {
	name  string
	arity int
}{
	{"geoadd", -5}, {"geodist", -4}, {"geohash", -2}, {"geopos", -2}, {"georadius", -6},
	{"georadius_ro", -6}, {"georadiusbymember", -5}, {"georadiusbymember_ro", -5},
	{"geosearch", -7}, {"geosearchstore", -8},
}

func geoWrongArity(g *diffGen) diffCmd {
	a := geoArities[g.rng.IntN(len(geoArities))]
	n := 1 + g.rng.IntN(-a.arity-1)
	args := []string{g.word(a.name)}
	for len(args) < n {
		args = append(args, g.key())
	}
	return diffCmd{args: args}
}
