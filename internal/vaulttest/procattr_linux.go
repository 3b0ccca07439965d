package vaulttest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill vaultdev if the test process dies
// without running its cleanups (a test timeout's panic, a SIGKILL), so no
// server outlives its test binary.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
