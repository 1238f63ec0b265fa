//go:build !unix

package trainer

// cpuSeconds is unknown here; reportCPU then reports nothing.
func cpuSeconds() float64 { return -1 }
