//go:build unix

package worker

import (
	"context"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker/copytest"
)

// portableCopy is the portable copy on the real filesystem, as where there
// is no fast path, as a copytest.CopyFunc.
func portableCopy(job *wire.Job, src, dst string) error {
	_, err := copyFile(context.Background(), afero.NewOsFs(), job, src, dst, fileOpts{tempPrefix: tempname.Prefix}, nil)
	return err
}

func TestSourceReplacedAfterWalk(t *testing.T) { copytest.SourceReplacedAfterWalk(t, portableCopy) }

func TestSourceChangedSinceListing(t *testing.T) { copytest.SourceChangedSinceListing(t, portableCopy) }
