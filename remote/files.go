package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/pkg/sftp"
)

const (
	tmpMarker = ".latticepush-tmp-"
	// BackupSuffix names the previous version of a file that Swap replaced.
	BackupSuffix = ".latticepush-prev"
)

// StagedFile is a complete, checked copy of new content under a temporary name beside its
// destination, waiting for Swap (or Discard).
type StagedFile struct {
	Path   string // destination
	Temp   string // the staged copy: <dir>/.<base>.latticepush-tmp-<random>
	Size   int64
	SHA256 string // hex
}

// StageOptions adjust Stage.
type StageOptions struct {
	// Owner, when set, is given to chown ("user" or "user:group") on the staged file.
	Owner string
}

// tempName returns a fresh temporary name in the directory of p.
func tempName(p string) string {
	var b [8]byte
	rand.Read(b[:])
	return path.Join(path.Dir(p), "."+path.Base(p)+tmpMarker+hex.EncodeToString(b[:]))
}

// Stage writes content to a new temporary file in p's directory (created exclusively,
// mode set before any byte is written), fsyncs it when the server offers fsync@openssh.com,
// reads it back to compare size and sha256, and applies owner. Nothing at p changes. On
// any failure the temporary file is removed (when the connection still allows it;
// a Lock with LockOptions.Sweep removes what a lost connection left).
func (c *Client) Stage(ctx context.Context, p string, content []byte, mode fs.FileMode, opts StageOptions) (StagedFile, error) {
	if !path.IsAbs(p) {
		return StagedFile{}, c.errorf("stage %s: path must be absolute", p)
	}
	sum := sha256.Sum256(content)
	st := StagedFile{Path: p, Temp: tempName(p), Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
	err := c.withSFTP(ctx, func(sc *sftp.Client) error {
		err := writeChecked(sc, st, content, mode)
		if err != nil {
			sc.Remove(st.Temp)
			err = noSpace(sc, st, err)
		}
		return err
	})
	if err == nil && opts.Owner != "" {
		_, err = c.Run(ctx, []string{"chown", "--", opts.Owner, st.Temp}, RunOptions{Become: c.target.Become})
		if err != nil {
			c.Discard(ctx, st)
		}
	}
	if err != nil {
		return StagedFile{}, c.errorf("stage %s: %w", p, err)
	}
	return st, nil
}

// noSpace says when a failed upload failed for lack of space: OpenSSH's sftp-server reports a
// full file system (ENOSPC) as a bare "Failure". After the failure (and the partial copy's
// removal) it asks the host how much room the destination's file system has; when that is
// less than the file, or no inode is free, the error says ENOSPC with both figures.
func noSpace(sc *sftp.Client, st StagedFile, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return err
	}
	if _, ok := sc.HasExtension("statvfs@openssh.com"); !ok {
		return err
	}
	dir := path.Dir(st.Path)
	vfs, verr := sc.StatVFS(dir)
	if verr != nil {
		return err
	}
	free := vfs.Frsize * vfs.Bavail
	switch {
	case vfs.Files > 0 && vfs.Favail == 0:
		return fmt.Errorf("%w (ENOSPC): the file system holding %s has no free inode; free some on the host and apply again (%v)", syscall.ENOSPC, dir, err)
	case free < uint64(st.Size):
		return fmt.Errorf("%w (ENOSPC): the file system holding %s has %d bytes free, the file needs %d; free space on the host and apply again (%v)", syscall.ENOSPC, dir, free, st.Size, err)
	}
	return err
}

func writeChecked(sc *sftp.Client, st StagedFile, content []byte, mode fs.FileMode) error {
	f, err := sc.OpenFile(st.Temp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if errors.Is(err, fs.ErrNotExist) {
		if err = sc.MkdirAll(path.Dir(st.Temp)); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		f, err = sc.OpenFile(st.Temp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", st.Temp, err)
	}
	defer f.Close()
	if err := f.Chmod(mode.Perm()); err != nil {
		return fmt.Errorf("chmod %s: %w", st.Temp, err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(content)); err != nil {
		return fmt.Errorf("write %s: %w", st.Temp, err)
	}
	if _, ok := sc.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", st.Temp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", st.Temp, err)
	}
	r, err := sc.Open(st.Temp)
	if err != nil {
		return fmt.Errorf("read back %s: %w", st.Temp, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("read back %s: %w", st.Temp, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != st.Size || got != st.SHA256 {
		return fmt.Errorf("read back %s: %d bytes sha256 %s, want %d bytes sha256 %s", st.Temp, n, got, st.Size, st.SHA256)
	}
	return nil
}

// Swap puts a staged file in place. The previous file, if any, is first hard-linked and
// renamed to <path>.latticepush-prev, then the staged file is renamed over path with
// posix-rename: at every instant path is either the complete old file or the complete new
// one. When path did not exist, a leftover backup from an earlier run is removed so that
// Restore cannot bring back unrelated old content.
func (c *Client) Swap(ctx context.Context, st StagedFile) error {
	err := c.withSFTP(ctx, func(sc *sftp.Client) error {
		backup := st.Path + BackupSuffix
		if _, err := sc.Lstat(st.Path); err == nil {
			if err := replaceWithLink(sc, st.Path, backup); err != nil {
				return fmt.Errorf("keep backup: %w", err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		} else if err := sc.Remove(backup); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale backup %s: %w", backup, err)
		}
		if err := sc.PosixRename(st.Temp, st.Path); err != nil {
			return fmt.Errorf("rename %s into place: %w", st.Temp, err)
		}
		return nil
	})
	if err != nil {
		return c.errorf("swap %s: %w", st.Path, err)
	}
	return nil
}

// replaceWithLink makes dst another name for src, atomically replacing dst: a hard link
// to a fresh temporary name, then posix-rename over dst.
func replaceWithLink(sc *sftp.Client, src, dst string) error {
	tmp := tempName(dst)
	if err := sc.Link(src, tmp); err != nil {
		return fmt.Errorf("link %s: %w", src, err)
	}
	if err := sc.PosixRename(tmp, dst); err != nil {
		sc.Remove(tmp)
		return fmt.Errorf("rename to %s: %w", dst, err)
	}
	return nil
}

// Restore undoes a Swap of p: the backup goes back in place atomically (and stays, so
// Restore can be repeated); when there is no backup, p did not exist before the Swap and
// is removed.
func (c *Client) Restore(ctx context.Context, p string) error {
	err := c.withSFTP(ctx, func(sc *sftp.Client) error {
		backup := p + BackupSuffix
		if _, err := sc.Lstat(backup); errors.Is(err, fs.ErrNotExist) {
			if err := sc.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		} else if err != nil {
			return err
		}
		return replaceWithLink(sc, backup, p)
	})
	if err != nil {
		return c.errorf("restore %s: %w", p, err)
	}
	return nil
}

// Discard removes a staged file that will not be swapped in.
func (c *Client) Discard(ctx context.Context, st StagedFile) error {
	err := c.withSFTP(ctx, func(sc *sftp.Client) error {
		if err := sc.Remove(st.Temp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return c.errorf("discard %s: %w", st.Temp, err)
	}
	return nil
}

// Put is Stage then Swap: p ends up with content, mode and owner, the old file kept as
// the backup.
func (c *Client) Put(ctx context.Context, p string, content []byte, mode fs.FileMode, opts StageOptions) error {
	st, err := c.Stage(ctx, p, content, mode, opts)
	if err != nil {
		return err
	}
	if err := c.Swap(ctx, st); err != nil {
		c.Discard(ctx, st)
		return err
	}
	return nil
}
