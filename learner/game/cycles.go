package game

// majorityEps guards the strict-majority test against rounding: an
// average of ties that lands at 0.5000000000000001 is still a tie.
const majorityEps = 1e-12

// Beats reports whether i beats j by a strict majority: p[i][j] > ½.
func Beats(p [][]float64, i, j int) bool { return p[i][j] > 0.5+majorityEps }

// Cycles returns every directed 3-cycle of the strict majority graph of p
// (an edge i → j when p[i][j] > ½; ties give no edge): triples
// (a, b, c) with a ≻ b ≻ c ≻ a. Each cycle is listed once, rotated so
// its smallest index comes first, in lexicographic order. A tournament
// without ties has no 3-cycle if and only if it is transitive.
func Cycles(p [][]float64) [][3]int {
	n := mustSquare(p)
	var out [][3]int
	for a := range n {
		for b := a + 1; b < n; b++ {
			for c := a + 1; c < n; c++ {
				if c != b && Beats(p, a, b) && Beats(p, b, c) && Beats(p, c, a) {
					out = append(out, [3]int{a, b, c})
				}
			}
		}
	}
	return out
}

// CondorcetWinner returns the action that beats every other by a strict
// majority, and false when there is none. There is at most one.
func CondorcetWinner(p [][]float64) (int, bool) {
	n := mustSquare(p)
	for i := range n {
		wins := 0
		for j := range n {
			if j != i && Beats(p, i, j) {
				wins++
			}
		}
		if wins == n-1 {
			return i, true
		}
	}
	return -1, false
}
