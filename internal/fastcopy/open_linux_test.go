package fastcopy

import (
	"context"
	"testing"

	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker/copytest"
)

// fastCopy is the fast path as a copytest.CopyFunc.
func fastCopy(t testing.TB) copytest.CopyFunc {
	fast := New(tempname.Prefix, wire.Settings{Owner: true}, false)
	t.Cleanup(fast.Close)
	return func(job *wire.Job, src, dst string) error {
		_, err := fast.CopyFile(context.Background(), job, src, dst, nil)
		return err
	}
}

func TestSourceReplacedAfterWalk(t *testing.T) { copytest.SourceReplacedAfterWalk(t, fastCopy(t)) }

func TestSourceChangedSinceListing(t *testing.T) { copytest.SourceChangedSinceListing(t, fastCopy(t)) }

// BenchmarkCopyFile is the fast path's; worker's is the portable one's.
func BenchmarkCopyFile(b *testing.B) { copytest.BenchCopyFile(b, fastCopy(b)) }
