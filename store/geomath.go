package store

import (
	"math"
	"math/big"
)

// Correctly rounded sine, cosine and arcsine for the geo distances. Redis
// calls glibc's, which round correctly but for the rarest inputs; Go's
// math package is often one unit in the last place off, enough to change a
// STOREDIST score or a distance on the edge of a radius. These evaluate in
// double-double arithmetic (about 106 bits, exact products from math.FMA,
// which rounds the same on every platform) and round once at the end.

// dd is an unevaluated sum hi+lo with |lo| at most half an ulp of hi.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) dd {
	s := a + b
	v := s - a
	return dd{s, (a - (s - v)) + (b - v)}
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

func twoProd(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func ddAdd(a, b dd) dd {
	s := twoSum(a.hi, b.hi)
	t := twoSum(a.lo, b.lo)
	s.lo += t.hi
	s = quickTwoSum(s.hi, s.lo)
	s.lo += t.lo
	return quickTwoSum(s.hi, s.lo)
}

func ddNeg(a dd) dd { return dd{-a.hi, -a.lo} }

func ddMul(a, b dd) dd {
	p := twoProd(a.hi, b.hi)
	p.lo += a.hi*b.lo + a.lo*b.hi
	return quickTwoSum(p.hi, p.lo)
}

// halfPi is pi/2 in three float64 parts, for Cody-Waite reduction.
var halfPi = func() [3]float64 {
	var p big.Float
	p.SetPrec(300)
	p.SetString("1.57079632679489661923132169163975144209858469968755291048747229615390820314310449931401741267105853399107404325664115332354692230477529111586267970406424055872514205135096926055277982231147447746519098221440548783296672306")
	var parts [3]float64
	for i := range parts {
		parts[i], _ = p.Float64()
		p.Sub(&p, new(big.Float).SetFloat64(parts[i]))
	}
	return parts
}()

// ddReduce returns r and k with x = r + k*pi/2, |r| <= about pi/4; ok is
// false where the reduction would lose precision (huge or non-finite x).
func ddReduce(x dd) (r dd, k int64, ok bool) {
	if !(math.Abs(x.hi) < 1<<20) {
		return dd{}, 0, false
	}
	kf := math.RoundToEven(x.hi / halfPi[0])
	r = x
	for _, p := range halfPi {
		r = ddAdd(r, ddNeg(twoProd(kf, p)))
	}
	return r, int64(kf), true
}

// sinCoef and cosCoef are the Taylor coefficients of sin(r)/r and cos(r)
// in r*r, (-1)^n/(2n+1)! and (-1)^n/(2n)!, in double-double: 15 terms
// reach 2^-112 for |r| <= pi/4.
var sinCoef, cosCoef = func() (s, c [15]dd) {
	// coef is (-1)^n/k! in double-double.
	coef := func(n, k int64) dd {
		f := new(big.Float).SetPrec(300).SetInt(new(big.Int).MulRange(1, k))
		f.Quo(new(big.Float).SetPrec(300).SetInt64(1-2*(n%2)), f)
		hi, _ := f.Float64()
		lo, _ := f.Sub(f, new(big.Float).SetFloat64(hi)).Float64()
		return dd{hi, lo}
	}
	for n := range int64(15) {
		s[n], c[n] = coef(n, 2*n+1), coef(n, 2*n)
	}
	return s, c
}()

// horner evaluates the series of coef at x: the terms from the eighth on
// are below 2^-45 for |x| <= (pi/4)^2, so plain float64 carries them to
// within 2^-97, and double-double only the leading ones.
func horner(coef *[15]dd, x dd) dd {
	const split = 7
	tail := coef[len(coef)-1].hi
	for i := len(coef) - 2; i >= split; i-- {
		tail = float64(tail*x.hi) + coef[i].hi
	}
	acc := dd{tail, 0}
	for i := split - 1; i >= 0; i-- {
		acc = ddAdd(ddMul(acc, x), coef[i])
	}
	return acc
}

// ddSinCosSmall is sin and cos of |r| <= pi/4, each only when asked for.
func ddSinCosSmall(r dd, wantSin, wantCos bool) (sin, cos dd) {
	r2 := ddMul(r, r)
	if wantSin {
		sin = ddMul(r, horner(&sinCoef, r2))
	}
	if wantCos {
		cos = horner(&cosCoef, r2)
	}
	return sin, cos
}

// ddSinCos is sin and cos of x in double-double; ok as for ddReduce.
func ddSinCos(x dd, wantSin, wantCos bool) (sin, cos dd, ok bool) {
	r, k, ok := ddReduce(x)
	if !ok {
		return dd{}, dd{}, false
	}
	// Odd quadrants swap sine and cosine.
	odd := k&1 == 1
	needSin := wantSin && !odd || wantCos && odd
	needCos := wantCos && !odd || wantSin && odd
	s, c := ddSinCosSmall(r, needSin, needCos)
	switch k & 3 {
	case 0:
		return s, c, true
	case 1:
		return c, ddNeg(s), true
	case 2:
		return ddNeg(s), ddNeg(c), true
	}
	return ddNeg(c), s, true
}

func geoSin(x float64) float64 {
	if s, _, ok := ddSinCos(dd{x, 0}, true, false); ok {
		return s.hi + s.lo
	}
	return math.Sin(x)
}

func geoCos(x float64) float64 {
	if _, c, ok := ddSinCos(dd{x, 0}, false, true); ok {
		return c.hi + c.lo
	}
	return math.Cos(x)
}

// geoAsin refines math.Asin by Newton's method on sin in double-double.
func geoAsin(x float64) float64 {
	if !(math.Abs(x) < 1) {
		return math.Asin(x)
	}
	y := dd{math.Asin(x), 0}
	// One step from an error of an ulp or so leaves about 2^-100.
	s, c, _ := ddSinCos(y, true, true)
	res := ddAdd(dd{x, 0}, ddNeg(s))
	y = ddAdd(y, dd{res.hi / c.hi, 0})
	return y.hi + y.lo
}
