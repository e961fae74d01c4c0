// Package copier copies a directory tree with a pool of worker processes.
//
// The coordinator ([Copy]) walks the source tree, creates the destination
// directories, and hands files to workers in batches over a byte stream (a
// pipe to a child process, or an [io.Pipe] for in-process workers). Workers
// ([ServeWorker]) copy each file to a temporary name in its destination
// directory, set its metadata, and rename it into place, then report the
// result. Directory metadata is set by the coordinator once every entry in the
// directory is done, so directory modification times survive the copy.
//
// The pipeline, in file order: plan.go resolves and vets SRC and DST;
// walk.go enumerates the tree depth first with memory bounded by its depth;
// dirs.go tracks when a directory is complete; dispatch.go runs the
// coordinator loop; protocol.go is the wire format; spawn.go starts workers;
// worker.go and copyfile.go are the worker side; meta_*.go hold the platform
// specific metadata calls.
package copier
