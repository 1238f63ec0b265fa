//go:build unix

package imageprep

import (
	"syscall"
	"time"
)

// processCPUTime is the user+system CPU time of this process. Benchmarks report CPU time per image
// besides wall time because the shared build machine is often oversubscribed, which inflates wall
// time but not the CPU an image costs.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
