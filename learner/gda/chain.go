package gda

import "math/rand/v2"

// FollowerFunc returns ω(·|cur), the Follower's distribution over the
// candidates given the current answer cur, written into dst when it has
// room (dst may be nil) and returned. Entries need not sum to 1 but must
// be non-negative with a positive sum.
type FollowerFunc func(cur int, dst []float64) []float64

// StopReason says why [Chain] stopped.
type StopReason string

// Reasons a refinement chain stops.
const (
	// StopKept: the Follower kept the current answer.
	StopKept StopReason = "kept"
	// StopMaxRounds: the round budget ran out.
	StopMaxRounds StopReason = "max_rounds"
)

// Chain runs inference-time refinement (DESIGN §2): y_1 = start,
// y_{k+1} ~ ω(·|y_k), with at most maxRounds calls of next, stopping
// early when the Follower keeps the current answer. With rng nil it
// takes the argmax instead of sampling, ties going to the current answer
// (then to the lowest index). It returns the visited answers, start
// first, appended to visited[:0] (pass nil or a buffer to reuse), and the
// reason it stopped. A maxRounds ≤ 0 returns [start] and StopMaxRounds.
// Chain panics when next returns a distribution that does not cover cur
// or has no positive entry (a programmer error in next).
func Chain(next FollowerFunc, start, maxRounds int, rng *rand.Rand, visited []int) ([]int, StopReason) {
	visited = append(visited[:0], start)
	var buf []float64
	cur := start
	for range maxRounds {
		buf = next(cur, buf)
		pick := choose(buf, cur, rng)
		if pick == cur {
			return visited, StopKept
		}
		visited = append(visited, pick)
		cur = pick
	}
	return visited, StopMaxRounds
}

// choose samples an index from the weights w, or takes the argmax
// (preferring cur on ties) when rng is nil.
func choose(w []float64, cur int, rng *rand.Rand) int {
	if cur >= len(w) {
		panic("gda: follower distribution does not cover the current answer")
	}
	sum, best := 0.0, cur
	for j, v := range w {
		sum += v
		if v > w[best] {
			best = j
		}
	}
	if !(sum > 0) {
		panic("gda: follower distribution has no positive weight")
	}
	if rng == nil {
		return best
	}
	u := rng.Float64() * sum
	for j, v := range w {
		if u -= v; u < 0 && v > 0 {
			return j
		}
	}
	return lastPositive(w)
}

// lastPositive guards the rounding case where u stays ≥ 0 after the loop.
func lastPositive(w []float64) int {
	for j := len(w) - 1; j >= 0; j-- {
		if w[j] > 0 {
			return j
		}
	}
	return 0
}
