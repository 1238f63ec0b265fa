package pipeline

import "context"

// UseLoopbackPrism makes the "prism" runner of this process run jobs on an
// in-process Prism job server reachable over loopback only, as Convert
// does, unless --endpoint names a job server already. Tests and programs
// that run their own pipelines on Prism (ptest, beamx) call it once before
// running them.
func UseLoopbackPrism(ctx context.Context) error { return useLoopbackPrism(ctx) }
