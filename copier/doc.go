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
// The coordinator, by file: copy.go vets the request and runs it; plan.go
// resolves SRC and DST; tasks.go turns the walk's entries (internal/walk)
// into tasks and DST directories; dirs.go finishes a directory once its
// entries are done; links.go keeps hard-link groups; dispatch.go is the
// loop and batching, workers.go the workers' life cycle, results.go what
// their results do; mirror.go is --delete, full.go a DST that fills up,
// split.go large files queued in parts (internal/fastcopy.Parts makes,
// checks and finishes them); remote.go, agent.go, spread.go and
// prove.go run workers on other hosts (Options.Hosts). The worker side is
// internal/worker (its loop, and the portable copy through afero) and
// internal/fastcopy (Linux's per-file path). Every path below SRC and DST
// is reached through internal/beneath.
package copier
