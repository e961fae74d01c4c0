//go:build !linux

package copier

import (
	"context"
	"os/exec"
)

func setWorkerAttrs(cmd *exec.Cmd) {}

func startWorker(cmd *exec.Cmd) error { return cmd.Start() }

// watchParent does nothing here: a worker whose coordinator died sees its
// stdin end, or its next result write fail.
func watchParent(ctx context.Context, cancel context.CancelFunc) {}

func setProcessName(name string) {}
