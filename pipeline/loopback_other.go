//go:build !linux

package pipeline

// restrictToLoopback cannot narrow a listener that Prism opened on every
// interface outside Linux; there the job server stays reachable from the
// network while a conversion runs (Prism's own behaviour).
func restrictToLoopback(port int) error { return nil }
