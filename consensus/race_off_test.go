//go:build !race

package consensus

// raceEnabled shrinks the simulation under the race detector, which slows it
// several times over.
const raceEnabled = false
