//go:build unix

package customers_test

import (
	"syscall"
	"time"
)

// perfCPUTime is the CPU time (user and system) this process has used so
// far, or false where that is not known.
func perfCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
