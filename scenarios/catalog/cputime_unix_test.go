//go:build unix

package catalog

import "syscall"

// cpuTime returns the CPU time (user and system) the process has used, in
// nanoseconds: on a shared machine a steadier measure than wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
