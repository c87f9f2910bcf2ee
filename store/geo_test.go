package store

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The expected replies below are redis-server 7.0's.

func TestGeoBasics(t *testing.T) {
	runScenarios(t, []scenario{
		{"add and read back", []step{
			{1, "geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", num(2), false},
			{1, "zrange g 0 -1 withscores", arr(bulk("Palermo"), bulk("3479099956230698"), bulk("Catania"), bulk("3479447370796909")), true},
			{1, "geodist g Palermo Catania", bulk("166274.1516"), true},
			{1, "geodist g Palermo Catania mi", bulk("103.3182"), true},
			{1, "geodist g Palermo nosuch", null, true},
			{1, "geodist g Palermo Catania yd", errs(errGeoUnit), true},
			{1, "geohash g Palermo nosuch Catania", arr(bulk("sqc8b49rny0"), null, bulk("sqdtr74hyu0")), true},
			{1, "geopos g Palermo nosuch", arr(arr(bulk("13.36138933897018433"), bulk("38.11555639549629859")), "*-1\r\n"), true},
			{1, "georadius g 15 37 200 km withdist withhash withcoord asc", arr(
				arr(bulk("Catania"), bulk("56.4413"), num(3479447370796909), arr(bulk("15.08726745843887329"), bulk("37.50266842333162032"))),
				arr(bulk("Palermo"), bulk("190.4424"), num(3479099956230698), arr(bulk("13.36138933897018433"), bulk("38.11555639549629859")))), false},
			{1, "geosearch g frommember Palermo bybox 400 400 km desc withdist", arr(
				arr(bulk("Catania"), bulk("166.2742")), arr(bulk("Palermo"), bulk("0.0000"))), true},
			{1, "georadius g 15 37 1 km", emptyArr, false},
			{1, "geoadd g 200 1 x", errs("ERR invalid longitude,latitude pair 200.000000,1.000000"), false},
			{1, "geoadd g xx nx 1 1 x", errs(errSyntax), false},
			{1, "geoadd g ch 13.361389 38.115556 Catania", num(1), false},
		}},
		// Any score decodes, as a C cast on x86-64 turns it into bits.
		{"scores that are no geohash", []step{
			{1, "zadd g -1 neg inf pinf 1.5 small", num(3), false},
			{1, "geopos g neg pinf small", arr(
				arr(bulk("180"), bulk("85.0511287799999991")),
				arr(bulk("-179.99999731779098511"), bulk("-85.05112751263942528")),
				arr(bulk("-179.99999731779098511"), bulk("-85.05112497791824921"))), true},
			{1, "geohash g neg pinf small", arr(bulk("bp05b5048p0"), bulk("00bh0hbj200"), bulk("00bh0hbj210")), true},
		}},
		{"store", []step{
			{1, "geoadd src 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", num(2), false},
			{1, "georadius src 15 37 200 km storedist d", num(2), false},
			{1, "zrange d 0 -1 withscores", arr(bulk("Catania"), bulk("56.441257870158204"), bulk("Palermo"), bulk("190.44242984775784")), true},
			{1, "georadius src 15 37 200 km store d withdist", errs("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"), false},
			{1, "georadius src 15 37 1 m store d", num(0), false},
			{1, "exists d", num(0), true},
		}},
	})
}

// TestGeoTies checks the order of equal distances under COUNT, which
// Redis's partial quicksort decides (not a stable sort: m21 comes first).
func TestGeoTies(t *testing.T) {
	s := New()
	var b strings.Builder
	b.WriteString("geoadd t")
	for i := range 50 {
		b.WriteString(" 13.3 38.1 m" + strconv.Itoa(i))
	}
	for i := range 10 {
		b.WriteString(" 13.31 38.1 n" + strconv.Itoa(i))
	}
	apply(s, 1, b.String())
	names := func(names ...string) string {
		items := make([]string, len(names))
		for i, n := range names {
			items[i] = bulk(n)
		}
		return arr(items...)
	}
	if got, want := read(s, 1, "georadius_ro t 13.3 38.1 100 km count 12"),
		names("m21", "m1", "m10", "m11", "m12", "m13", "m14", "m15", "m16", "m17", "m18", "m19"); got != want {
		t.Errorf("asc: got %q, want %q", got, want)
	}
	if got, want := read(s, 1, "georadius_ro t 13.3 38.1 100 km count 12 desc"),
		names("n9", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n0", "m18", "m19"); got != want {
		t.Errorf("desc: got %q, want %q", got, want)
	}
}

// TestGeoPartialSort checks that the partial sort orders the wanted ranks
// as a full sort would (up to ties) and leaves the rest a permutation.
func TestGeoPartialSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cmp := func(a, b *geoPoint) int {
		return int(math.Copysign(1, a.dist-b.dist)) * int(min(math.Abs(a.dist-b.dist), 1))
	}
	for range 500 {
		n := 1 + r.IntN(120)
		pts := make([]geoPoint, n)
		for i := range pts {
			pts[i] = geoPoint{dist: float64(r.IntN(20)), member: strconv.Itoa(i)}
		}
		k := 1 + r.IntN(n)
		got := slices.Clone(pts)
		geoPartialSort(got, cmp, 0, k-1)
		want := slices.Clone(pts)
		slices.SortFunc(want, func(a, b geoPoint) int { return cmp(&a, &b) })
		for i := range k {
			if got[i].dist != want[i].dist {
				t.Fatalf("n %d k %d: rank %d has %v, want %v", n, k, i, got[i].dist, want[i].dist)
			}
		}
		seen := map[string]bool{}
		for _, p := range got {
			seen[p.member] = true
		}
		if len(seen) != n {
			t.Fatalf("n %d k %d: not a permutation", n, k)
		}
	}
}

func TestGeoDistanceFormat(t *testing.T) {
	for _, c := range []struct {
		d    float64
		want string
	}{
		{0, "0.0000"}, {1e-9, "0.0000"}, {0.00004, "0.0000"}, {0.00006, "0.0001"},
		{1.23456, "1.2346"}, {12345678.9, "12345678.9000"}, {0.5, "0.5000"}, {7, "7.0000"},
	} {
		if got := appendGeoDistance(nil, c.d); string(got) != bulk(c.want) {
			t.Errorf("%v: got %q, want %q", c.d, got, bulk(c.want))
		}
	}
}

func TestGeoCCasts(t *testing.T) {
	for _, c := range []struct {
		f float64
		u uint64
	}{
		{-1, math.MaxUint64}, {math.Inf(1), 0}, {math.Inf(-1), 1 << 63}, {1e300, 0}, {1.5, 1},
		{3479099956230698, 3479099956230698}, {1 << 63, 1 << 63},
	} {
		if got := cUint64(c.f); got != c.u {
			t.Errorf("cUint64(%v) = %#x, want %#x", c.f, got, c.u)
		}
	}
	if got := cInt64(math.Inf(1)); got != math.MinInt64 {
		t.Errorf("cInt64(inf) = %d", got)
	}
}

func BenchmarkGeoDistance(b *testing.B) {
	for i := range b.N {
		geoDistance(13.361389, 38.115556, 15.087269+float64(i%100)*1e-3, 37.502669)
	}
}

// TestGeoMath checks values where Go's math package is an ulp away from
// glibc's (and the correctly rounded) result.
func TestGeoMath(t *testing.T) {
	for _, c := range []struct {
		name    string
		f       func(float64) float64
		x, want float64
	}{
		{"cos", geoCos, 0x1.4aa29abaf85cap-01, 0x1.98e6c0ea27a14p-1},
		{"asin", geoAsin, 0x1.e9986f35a03e4p-07, 0x1.e99d1927b5a73p-7},
		{"sin", geoSin, -0x1.d49188c460368p-07, -0x1.d48d7241ab80bp-7},
		{"sin", geoSin, 0, 0},
		{"asin", geoAsin, 1, math.Pi / 2},
	} {
		if got := c.f(c.x); got != c.want {
			t.Errorf("%s(%x) = %x, want %x", c.name, c.x, got, c.want)
		}
	}
}

// TestGeoFartherIsSafe checks that the fast rejection never rejects a
// point the exact distance puts inside, right at the limit.
func TestGeoFartherIsSafe(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		lon1, lat1 := r.Float64()*360-180, r.Float64()*170-85
		lon2, lat2 := lon1+(r.Float64()*2-1)*r.Float64()*90, lat1+(r.Float64()*2-1)*r.Float64()*40
		d := geoDistance(lon1, lat1, lon2, lat2)
		for _, limit := range []float64{d, math.Nextafter(d, 0), d * (1 - 1e-10)} {
			if geoFarther(lon1, lat1, lon2, lat2, limit) && !(d > limit) {
				t.Fatalf("(%v,%v)-(%v,%v): rejected at %v, distance %v", lon1, lat1, lon2, lat2, limit, d)
			}
		}
	}
}
