//go:build !race

package schemas

// raceEnabled reports whether the test binary has the race detector.
const raceEnabled = false
