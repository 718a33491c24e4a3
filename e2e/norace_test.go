//go:build !race

package e2e

// raceEnabled says this test binary runs with the race detector; the servers are then built
// with it too.
const raceEnabled = false
