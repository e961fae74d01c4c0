//go:build !linux

package copier

import "github.com/pcopy/pcopy/internal/wire"

// newOSCopier returns nil here: files are copied through afero.
func newOSCopier(tempPrefix string, set wire.Settings, namedTemps bool) fileCopier { return nil }

// reusable is never asked here: there is no fast path to link with.
func reusable(linkDest, rel string, job *wire.Job, owner bool) (string, bool) {
	return "", false
}
