package remotecluster

// mapRenewAt is the peak above which a renewingMap is made anew once
// empty: a Go map keeps the room it grew to, and the maps that grow with a
// burst (the own-write records, the queues' sets) would otherwise hold the
// room of the initial resync, every object of a remote at once, for the
// Syncer's life.
const mapRenewAt = 256

// renewingMap is a map that is made anew once empty after holding more
// than mapRenewAt entries since it was last made. Its zero value is an
// empty map. Not safe for concurrent use.
type renewingMap[K comparable, V any] struct {
	m    map[K]V
	peak int // most entries held since m was made
}

// get returns the value of k and whether it is present.
func (r *renewingMap[K, V]) get(k K) (V, bool) {
	v, ok := r.m[k]
	return v, ok
}

// has reports whether k is present.
func (r *renewingMap[K, V]) has(k K) bool {
	_, ok := r.m[k]
	return ok
}

// set makes v the value of k.
func (r *renewingMap[K, V]) set(k K, v V) {
	if r.m == nil {
		r.m = map[K]V{}
	}
	r.m[k] = v
	r.peak = max(r.peak, len(r.m))
}

// delete removes k, and lets the map go if that empties it after a peak
// above mapRenewAt.
func (r *renewingMap[K, V]) delete(k K) {
	delete(r.m, k)
	if len(r.m) == 0 && r.peak > mapRenewAt {
		r.m, r.peak = nil, 0
	}
}

// len is the number of entries.
func (r *renewingMap[K, V]) len() int { return len(r.m) }
