package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts the disk writes of length bytes of f from offset and returns without waiting for
// them (it may wait while the device's queue is full).
func startWriteback(f *os.File, offset, length int64) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SyncFileRange(int(fd), offset, length, unix.SYNC_FILE_RANGE_WRITE) })
	}
}

// datasync waits until f's data and size are on the disk (fdatasync(2): metadata a read does not need,
// such as the modification time, may lag).
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Fdatasync(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
