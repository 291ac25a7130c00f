package plan

import (
	"github.com/aymanbagabas/go-udiff"
)

// unifiedDiff returns a unified diff from old to new, labelled with path. Both sides must
// already be redacted. A nil old means the file is new.
func unifiedDiff(path string, old, new []byte) string {
	from := path
	if old == nil {
		from = "/dev/null"
	}
	return udiff.Unified(from, path, string(old), string(new))
}
