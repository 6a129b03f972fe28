package cli

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// exitWithParent asks the kernel for SIGTERM when the parent exits (the
// signal then drains the server as usual), as nbdkit's --exit-with-parent
// does, and checks that the parent has not exited already.
func exitWithParent() error {
	ppid := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return err
	}
	if os.Getppid() != ppid {
		return errors.New("the parent has exited already")
	}
	return nil
}

// toDevNull points the file descriptors fds (of stdin, stdout, stderr) at
// /dev/null.
func toDevNull(fds ...int) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	for _, fd := range fds {
		if err := unix.Dup3(int(null.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}
