// Package atomicfile writes local files so that readers see the old file or the new one,
// never a partial one, and a file with secrets is never readable by others, even briefly.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes data to a new temporary file next to path, with perm set before any byte is
// written, syncs it and renames it over path. On failure the temporary file is removed and
// path is untouched.
func Write(path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
