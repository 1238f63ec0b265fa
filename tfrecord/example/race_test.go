//go:build race

package example

// raceEnabled: the race detector's instrumentation changes allocation
// counts, so the tests that count allocations skip.
const raceEnabled = true
