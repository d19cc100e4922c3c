//go:build race

package e2e

// raceEnabled: the test runs with the race detector, and so does the app
// binary it builds.
const raceEnabled = true
