//go:build !linux

package copier

// newOSCopier returns nil here: files are copied through afero.
func newOSCopier(tempPrefix string, h hello) fileCopier { return nil }

// reusable is never asked here: there is no fast path to link with.
func reusable(linkDest, rel string, job *Job, owner bool) (string, bool) {
	return "", false
}
