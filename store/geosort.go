package store

// geoPartialSort is Redis's pqsort (a Bentley-McIlroy quicksort that only
// recurses into partitions overlapping the wanted ranks), which GEORADIUS
// and GEOSEARCH use when COUNT keeps fewer results than were found: ranks
// lo..hi of a end up in order. It is not stable, and which of two equally
// distant points comes first follows from its exact pivots and swaps, so
// rkv takes the same steps to return the same order.
func geoPartialSort(a []geoPoint, cmp func(x, y *geoPoint) int, lo, hi int) {
	pqsortRun(a, 0, len(a), cmp, lo, hi)
}

func pqsortRun(a []geoPoint, base, n int, cmp func(x, y *geoPoint) int, lo, hi int) {
	swap := func(i, j int) { a[i], a[j] = a[j], a[i] }
	vecswap := func(i, j, k int) {
		for ; k > 0; k-- {
			swap(i, j)
			i++
			j++
		}
	}
	med3 := func(i, j, k int) int {
		if cmp(&a[i], &a[j]) < 0 {
			switch {
			case cmp(&a[j], &a[k]) < 0:
				return j
			case cmp(&a[i], &a[k]) < 0:
				return k
			}
			return i
		}
		switch {
		case cmp(&a[j], &a[k]) > 0:
			return j
		case cmp(&a[i], &a[k]) < 0:
			return i
		}
		return k
	}
	// wanted reports whether ranks from..to hold any of lo..hi.
	wanted := func(from, to int) bool { return !(lo < from && hi < from || lo > to && hi > to) }
	for {
		if n < 7 {
			for m := base + 1; m < base+n; m++ {
				for l := m; l > base && cmp(&a[l-1], &a[l]) > 0; l-- {
					swap(l, l-1)
				}
			}
			return
		}
		pm := base + n/2
		if n > 7 {
			pl, pn := base, base+n-1
			if n > 40 {
				d := n / 8
				pl = med3(pl, pl+d, pl+2*d)
				pm = med3(pm-d, pm, pm+d)
				pn = med3(pn-2*d, pn-d, pn)
			}
			pm = med3(pl, pm, pn)
		}
		swap(base, pm)
		// Equal keys gather at both ends ([base, pa) and (pd, end)), the
		// smaller in [pa, pb), the larger in (pc, pd].
		pa, pb := base+1, base+1
		pc, pd := base+n-1, base+n-1
		for {
			for pb <= pc {
				r := cmp(&a[pb], &a[base])
				if r > 0 {
					break
				}
				if r == 0 {
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := cmp(&a[pc], &a[base])
				if r < 0 {
					break
				}
				if r == 0 {
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			pb++
			pc--
		}
		end := base + n
		r := min(pa-base, pb-pa)
		vecswap(base, pb-r, r)
		r = min(pd-pc, end-pd-1)
		vecswap(pb, end-r, r)
		if r = pb - pa; r > 1 && wanted(base, base+r-1) {
			pqsortRun(a, base, r, cmp, lo, hi)
		}
		r = pd - pc
		if r <= 1 || !wanted(end-r, end-1) {
			return
		}
		base, n = end-r, r
	}
}
