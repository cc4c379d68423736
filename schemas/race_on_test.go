//go:build race

package schemas

// raceEnabled: the race detector's shadow memory cannot live under an
// address-space cap, so capped children run uncapped in -race builds.
const raceEnabled = true
