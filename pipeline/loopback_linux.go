package pipeline

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// restrictToLoopback finds this process's listening TCP socket on port and
// binds it to the loopback device (SO_BINDTODEVICE "lo"): connections that
// arrive on any other interface are refused. Linux lets an unprivileged
// process do this since 5.7.
func restrictToLoopback(port int) error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	found := 0
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		if listening, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || listening != 1 {
			continue
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil || sockPort(sa) != port {
			continue
		}
		if err := syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo"); err != nil {
			return fmt.Errorf("SO_BINDTODEVICE: %w", err)
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("no listening socket on port %d", port)
	}
	return nil
}

func sockPort(sa syscall.Sockaddr) int {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return a.Port
	case *syscall.SockaddrInet6:
		return a.Port
	}
	return -1
}
