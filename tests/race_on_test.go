//go:build race

package tests

// raceDetector says the tests run with -race.
const raceDetector = true
