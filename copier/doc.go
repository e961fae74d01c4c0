// Package copier copies a directory tree with a pool of worker processes.
//
// The coordinator ([Copy]) walks the source tree, creates the destination
// directories, and hands files to workers in batches over a byte stream (a
// pipe to a child process, or an [io.Pipe] for in-process workers; the
// messages are internal/wire's). Workers ([ServeWorker]) copy each file so
// that its name never holds a partial copy: on Linux into an unnamed file
// (O_TMPFILE) in its destination directory, given its metadata and then
// its name with linkat; where that cannot be (a file already at the name,
// a filesystem without O_TMPFILE, other systems) under a temporary name
// that is renamed into place. Then they report the result. Directory
// metadata is set by the coordinator once every entry in the directory is
// done, so directory modification times survive the copy.
//
// The pipeline, in file order: plan.go resolves and vets SRC and DST;
// walk.go enumerates the tree depth first with memory bounded by its depth
// and turns entries into tasks; dirs.go tracks when a directory is
// complete; dispatch.go runs the coordinator loop; spawn.go starts workers;
// worker.go is the worker side, copyfile.go its portable per-file copy and
// copyfile_linux.go the Linux one; meta_*.go hold the platform specific
// metadata calls; mirror.go is --delete. Every path below SRC and DST is
// reached through internal/beneath.
package copier
