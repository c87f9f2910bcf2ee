package store

import "math"

// Redis's geohash (geohash.c, geohash_helper.c): a longitude and latitude
// become 26 bits each, interleaved into a 52-bit score, over the WGS84
// limits Web Mercator can project. A search covers its shape with the
// geohash box of the centre and its eight neighbours, at a precision
// chosen from the radius, and filters the members of each box's score
// range by their haversine distance. Every step follows Redis's arithmetic
// so that scores, areas and distances are Redis's to the last bit (the
// trigonometry is geomath.go's, correctly rounded as glibc's nearly always
// is); products are rounded explicitly (float64(...)) so that no platform
// fuses them into an FMA and replicas on different CPUs agree.

const (
	geoStepMax  = 26 // 26 bits a coordinate: 52 bits, exact in a float64 score
	geoLatMin   = -85.05112878
	geoLatMax   = 85.05112878
	geoLongMin  = -180.0
	geoLongMax  = 180.0
	earthRadius = 6372797.560856 // metres, Redis's quadratic mean radius
	mercatorMax = 20037726.37
	degToRad    = math.Pi / 180
)

type geoRange struct{ min, max float64 }

// geoHashBits is a geohash of step bits a coordinate; all zero is "none".
type geoHashBits struct {
	bits uint64
	step uint8
}

func (h geoHashBits) isZero() bool { return h.bits == 0 && h.step == 0 }

// geoArea is a geohash with the box it stands for.
type geoArea struct {
	hash     geoHashBits
	lon, lat geoRange
}

var (
	wgs84Lon = geoRange{geoLongMin, geoLongMax}
	wgs84Lat = geoRange{geoLatMin, geoLatMax}
)

// spread moves the low 32 bits of v to the even bit positions.
func spread(v uint64) uint64 {
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	v = (v | v<<8) & 0x00FF00FF00FF00FF
	v = (v | v<<4) & 0x0F0F0F0F0F0F0F0F
	v = (v | v<<2) & 0x3333333333333333
	return (v | v<<1) & 0x5555555555555555
}

// squeeze is spread's inverse: the even bits of v, packed low.
func squeeze(v uint64) uint64 {
	v &= 0x5555555555555555
	v = (v | v>>1) & 0x3333333333333333
	v = (v | v>>2) & 0x0F0F0F0F0F0F0F0F
	v = (v | v>>4) & 0x00FF00FF00FF00FF
	v = (v | v>>8) & 0x0000FFFF0000FFFF
	return (v | v>>16) & 0x00000000FFFFFFFF
}

// interleave puts lat's bits at the even positions and lon's at the odd.
func interleave(lat, lon uint32) uint64 { return spread(uint64(lat)) | spread(uint64(lon))<<1 }

// geoEncode is geohashEncode: false outside the WGS84 limits or the ranges.
func geoEncode(lonR, latR geoRange, lon, lat float64, step uint8) (geoHashBits, bool) {
	if step > 32 || step == 0 ||
		lon > geoLongMax || lon < geoLongMin || lat > geoLatMax || lat < geoLatMin ||
		lat < latR.min || lat > latR.max || lon < lonR.min || lon > lonR.max {
		return geoHashBits{}, false
	}
	latOff := (lat - latR.min) / (latR.max - latR.min)
	lonOff := (lon - lonR.min) / (lonR.max - lonR.min)
	scale := float64(uint64(1) << step)
	latOff *= scale
	lonOff *= scale
	return geoHashBits{interleave(uint32(latOff), uint32(lonOff)), step}, true
}

// geoDecode is geohashDecode: the box a hash stands for.
func geoDecode(lonR, latR geoRange, h geoHashBits) geoArea {
	// 32-bit, as Redis's: ilat+1 wraps for the largest.
	ilat := uint32(squeeze(h.bits))
	ilon := uint32(squeeze(h.bits >> 1))
	div := float64(uint64(1) << h.step)
	latScale, lonScale := latR.max-latR.min, lonR.max-lonR.min
	return geoArea{
		hash: h,
		lat: geoRange{
			latR.min + float64(float64(ilat)/div*latScale),
			latR.min + float64(float64(ilat+1)/div*latScale),
		},
		lon: geoRange{
			lonR.min + float64(float64(ilon)/div*lonScale),
			lonR.min + float64(float64(ilon+1)/div*lonScale),
		},
	}
}

// geoDecodeScore is decodeGeohash: a member's position from its score, the
// centre of its box clamped to the WGS84 limits. Any score decodes.
func geoDecodeScore(score float64) (lon, lat float64) {
	a := geoDecode(wgs84Lon, wgs84Lat, geoHashBits{cUint64(score), geoStepMax})
	lon = min(max((a.lon.min+a.lon.max)/2, geoLongMin), geoLongMax)
	lat = min(max((a.lat.min+a.lat.max)/2, geoLatMin), geoLatMax)
	return lon, lat
}

// cUint64 converts as C's (uint64_t) cast of a double compiles on x86-64,
// where Redis runs: out-of-range values (a sorted set may hold any score)
// give the integer-indefinite pattern, never a Go-defined value that may
// differ between platforms.
func cUint64(f float64) uint64 {
	const two63 = 9223372036854775808.0
	trunc := func(f float64) uint64 {
		if math.IsNaN(f) || f >= two63 || f <= -two63-1 {
			return 1 << 63
		}
		return uint64(int64(f))
	}
	if f < two63 {
		return trunc(f)
	}
	return trunc(f-two63) ^ 1<<63
}

// geoAlign52 is a hash's bits left-aligned on 52 bits: its lowest score.
func geoAlign52(h geoHashBits) uint64 { return h.bits << (52 - 2*uint(h.step)) }

// geoMove shifts a hash one box along a coordinate, d +1 or -1: the
// longitude (odd bits) when odd, else the latitude (even bits).
func geoMove(h geoHashBits, d int, odd bool) geoHashBits {
	const evens, odds = 0x5555555555555555, 0xaaaaaaaaaaaaaaaa
	mine, other := uint64(odds), uint64(evens)
	if !odd {
		mine, other = other, mine
	}
	shift := 64 - 2*uint(h.step)
	v, rest := h.bits&mine, h.bits&other
	// The other coordinate's bits set make the carry or borrow ripple
	// through them to this coordinate's next bit.
	fill := other >> shift
	if d > 0 {
		v += fill + 1
	} else {
		v = (v | fill) - (fill + 1)
	}
	v &= mine >> shift
	return geoHashBits{v | rest, h.step}
}

// Neighbour directions, in the order Redis searches the boxes after the
// centre's.
const (
	geoNorth = iota
	geoSouth
	geoEast
	geoWest
	geoNorthEast
	geoNorthWest
	geoSouthEast
	geoSouthWest
)

func geoNeighbors(h geoHashBits) [8]geoHashBits {
	move := func(dx, dy int) geoHashBits {
		r := h
		if dx != 0 {
			r = geoMove(r, dx, true)
		}
		if dy != 0 {
			r = geoMove(r, dy, false)
		}
		return r
	}
	var n [8]geoHashBits
	n[geoNorth] = move(0, 1)
	n[geoSouth] = move(0, -1)
	n[geoEast] = move(1, 0)
	n[geoWest] = move(-1, 0)
	n[geoNorthEast] = move(1, 1)
	n[geoNorthWest] = move(-1, 1)
	n[geoSouthEast] = move(1, -1)
	n[geoSouthWest] = move(-1, -1)
	return n
}

// geoEstimateSteps is geohashEstimateStepsByRadius: the precision whose
// boxes are about the size of the range, coarser towards the poles.
func geoEstimateSteps(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < mercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint8(min(max(step, 1), 26))
}

// Shapes of a search.
const (
	geoCircle = iota + 1
	geoBox
)

// geoShape is a search's centre and shape; radius, width and height are
// in the unit whose size in metres conversion is.
type geoShape struct {
	typ                   int
	lon, lat              float64
	conversion            float64
	radius, width, height float64
	// bounds: min longitude, min latitude, max longitude, max latitude.
	bounds [4]float64
}

// boundingBox is geohashBoundingBox: longitudes are widest on the side
// nearer the equator.
func (s *geoShape) boundingBox() {
	halfH, halfW := s.radius, s.radius
	if s.typ == geoBox {
		halfH, halfW = s.height/2, s.width/2
	}
	height := float64(s.conversion * halfH)
	width := float64(s.conversion * halfW)
	latDelta := height / earthRadius / degToRad
	lonDeltaTop := width / earthRadius / geoCos(float64((s.lat+latDelta)*degToRad)) / degToRad
	lonDeltaBottom := width / earthRadius / geoCos(float64((s.lat-latDelta)*degToRad)) / degToRad
	lonDelta := lonDeltaTop
	if s.lat < 0 {
		lonDelta = lonDeltaBottom
	}
	s.bounds = [4]float64{s.lon - lonDelta, s.lat - latDelta, s.lon + lonDelta, s.lat + latDelta}
}

// geoAreas is geohashCalculateAreasByShapeWGS84: the boxes to search, the
// centre's first, then its neighbours (zero where not needed). It sets the
// shape's bounds.
func geoAreas(s *geoShape) [9]geoHashBits {
	s.boundingBox()
	minLon, minLat, maxLon, maxLat := s.bounds[0], s.bounds[1], s.bounds[2], s.bounds[3]
	radius := s.radius
	if s.typ == geoBox {
		hw, hh := s.width/2, s.height/2
		radius = math.Sqrt(float64(hw*hw) + float64(hh*hh))
	}
	radius *= s.conversion
	steps := geoEstimateSteps(radius, s.lat)
	hash, _ := geoEncode(wgs84Lon, wgs84Lat, s.lon, s.lat, steps)
	nb := geoNeighbors(hash)
	area := geoDecode(wgs84Lon, wgs84Lat, hash)
	// Near a box's edge the estimated step can be too fine for the
	// neighbours to cover the search: one step coarser then.
	north := geoDecode(wgs84Lon, wgs84Lat, nb[geoNorth])
	south := geoDecode(wgs84Lon, wgs84Lat, nb[geoSouth])
	east := geoDecode(wgs84Lon, wgs84Lat, nb[geoEast])
	west := geoDecode(wgs84Lon, wgs84Lat, nb[geoWest])
	if steps > 1 && (north.lat.max < maxLat || south.lat.min > minLat || east.lon.max < maxLon || west.lon.min > minLon) {
		steps--
		hash, _ = geoEncode(wgs84Lon, wgs84Lat, s.lon, s.lat, steps)
		nb = geoNeighbors(hash)
		area = geoDecode(wgs84Lon, wgs84Lat, hash)
	}
	// Drop the neighbours the search cannot reach.
	if steps >= 2 {
		drop := func(dirs ...int) {
			for _, d := range dirs {
				nb[d] = geoHashBits{}
			}
		}
		if area.lat.min < minLat {
			drop(geoSouth, geoSouthWest, geoSouthEast)
		}
		if area.lat.max > maxLat {
			drop(geoNorth, geoNorthEast, geoNorthWest)
		}
		if area.lon.min < minLon {
			drop(geoWest, geoSouthWest, geoNorthWest)
		}
		if area.lon.max > maxLon {
			drop(geoEast, geoSouthEast, geoNorthEast)
		}
	}
	var boxes [9]geoHashBits
	boxes[0] = hash
	copy(boxes[1:], nb[:])
	return boxes
}

// geoLatDistance is the distance along a meridian.
func geoLatDistance(lat1, lat2 float64) float64 {
	return earthRadius * math.Abs(float64(lat2*degToRad)-float64(lat1*degToRad))
}

// geoDistance is the haversine great-circle distance, in metres.
func geoDistance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := float64(lon1*degToRad), float64(lon2*degToRad)
	v := geoSin((lon2r - lon1r) / 2)
	if v == 0 {
		return geoLatDistance(lat1, lat2)
	}
	lat1r, lat2r := float64(lat1*degToRad), float64(lat2*degToRad)
	u := geoSin((lat2r - lat1r) / 2)
	a := float64(u*u) + float64(float64(float64(geoCos(lat1r)*geoCos(lat2r))*v)*v)
	return 2.0 * earthRadius * geoAsin(math.Sqrt(a))
}

// geoFarther reports whether the distance is certainly above limit, judged
// with Go's math (within an ulp or two of the correctly rounded functions)
// and a wide margin: most members a search rejects are rejected without
// the slower exact distance. Near the antipodes, where asin magnifies
// errors, it does not judge.
func geoFarther(lon1, lat1, lon2, lat2, limit float64) bool {
	lon1r, lon2r := float64(lon1*degToRad), float64(lon2*degToRad)
	v := math.Sin((lon2r - lon1r) / 2)
	lat1r, lat2r := float64(lat1*degToRad), float64(lat2*degToRad)
	u := math.Sin((lat2r - lat1r) / 2)
	a := float64(u*u) + float64(float64(float64(math.Cos(lat1r)*math.Cos(lat2r))*v)*v)
	if v == 0 || !(a < 0.9) {
		return false
	}
	return 2.0*earthRadius*math.Asin(math.Sqrt(a)) > float64(limit*(1+1e-9))
}

// within is geoWithinShape: a point's distance from the centre in metres,
// and whether the point is inside the shape.
func (s *geoShape) within(lon, lat float64) (float64, bool) {
	if s.typ == geoCircle {
		// Not "d <= radius": a NaN distance (antipodes, where rounding
		// takes the haversine past 1) is inside, as in Redis.
		r := float64(s.radius * s.conversion)
		if geoFarther(s.lon, s.lat, lon, lat, r) {
			return 0, false
		}
		d := geoDistance(s.lon, s.lat, lon, lat)
		return d, !(d > r)
	}
	w, h := float64(s.width*s.conversion), float64(s.height*s.conversion)
	if geoLatDistance(lat, s.lat) > h/2 {
		return 0, false
	}
	if geoFarther(lon, lat, s.lon, lat, w/2) || geoDistance(lon, lat, s.lon, lat) > w/2 {
		return 0, false
	}
	return geoDistance(s.lon, s.lat, lon, lat), true
}
