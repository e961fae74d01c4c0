package copier

import (
	"context"
	"io"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fastcopy"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// ServeWorker runs the worker side of the protocol on r and w against fsys:
// it answers the coordinator's hello, then copies each batch of jobs it
// receives and reports a result per job, in order. It returns nil when r
// ends cleanly (the coordinator closed the queue), ctx.Err() when ctx is
// cancelled (the job in hand is abandoned and its temporary file removed),
// or the protocol error that stopped it, which it also reports to the
// coordinator as a fatal message.
func ServeWorker(ctx context.Context, fsys afero.Fs, r io.Reader, w io.Writer) error {
	return serveWorker(ctx, fsys, r, w, false)
}

// serveWorker is ServeWorker; with namedTemps every file gets a temporary
// name, as where O_TMPFILE cannot be used.
func serveWorker(ctx context.Context, fsys afero.Fs, r io.Reader, w io.Writer, namedTemps bool) error {
	return worker.Serve(ctx, fsys, r, w, func(tempPrefix string, set wire.Settings) worker.FileCopier {
		return fastcopy.New(tempPrefix, set, namedTemps)
	})
}
