package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io/fs"
	"strconv"
	"strings"
)

// FileState is what ReadFiles observed for one path.
type FileState struct {
	Exists bool
	Mode   fs.FileMode // permission bits
	Size   int64
	SHA256 string // hex; empty when the path is not a readable regular file
	// Content is the file's bytes when asked for and Size <= the limit; nil otherwise.
	Content []byte
	// Problem is set when the path exists but could not be hashed (not a regular file,
	// unreadable).
	Problem string
}

// readFilesScript prints one record per path, in order: "M" (missing), "E <why>", or
// "F <octal mode> <size> <sha256>" followed, for files up to the limit, by "C <base64>".
const readFilesScript = `limit=$1; shift
for p in "$@"; do
  if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo M; continue; fi
  if [ ! -f "$p" ]; then echo "E not a regular file"; continue; fi
  if [ ! -r "$p" ]; then echo "E permission denied"; continue; fi
  st=$(stat -L -c '%a %s' -- "$p") || { echo "E stat failed"; continue; }
  sum=$(sha256sum < "$p") || { echo "E read failed"; continue; }
  echo "F $st ${sum%% *}"
  if [ "${st#* }" -le "$limit" ]; then printf 'C '; base64 < "$p" | tr -d '\n'; echo; fi
done`

// ReadFiles reports the state of every path in one round trip (a single exec running a
// fixed script; paths are passed as quoted arguments). With contentLimit >= 0, regular
// files of at most that many bytes come back with their Content. With the target's Become
// it reads as root.
func (c *Client) ReadFiles(ctx context.Context, paths []string, contentLimit int64) (map[string]FileState, error) {
	out := make(map[string]FileState, len(paths))
	if len(paths) == 0 {
		return out, nil
	}
	args := append([]string{strconv.FormatInt(contentLimit, 10)}, paths...)
	res, err := c.Run(ctx, Script(readFilesScript, args...), RunOptions{Become: c.target.Become})
	if err != nil {
		return nil, c.errorf("read files: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
	sc.Buffer(nil, 1<<30)
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	for i := 0; i < len(paths); i++ {
		line, ok := next()
		if !ok {
			return nil, c.errorf("read files: output ended after %d of %d paths", i, len(paths))
		}
		var st FileState
		switch {
		case line == "M":
		case strings.HasPrefix(line, "E "):
			st.Exists, st.Problem = true, line[2:]
		case strings.HasPrefix(line, "F "):
			f := strings.Fields(line[2:])
			if len(f) != 3 {
				return nil, c.errorf("read files: bad record %q", line)
			}
			mode, err1 := strconv.ParseUint(f[0], 8, 32)
			size, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 != nil || err2 != nil {
				return nil, c.errorf("read files: bad record %q", line)
			}
			st = FileState{Exists: true, Mode: fs.FileMode(mode).Perm(), Size: size, SHA256: f[2]}
			if contentLimit >= 0 && size <= contentLimit {
				cl, ok := next()
				if !ok || !strings.HasPrefix(cl, "C ") {
					return nil, c.errorf("read files: missing content for %s", paths[i])
				}
				if st.Content, err = base64.StdEncoding.DecodeString(cl[2:]); err != nil {
					return nil, c.errorf("read files: content of %s: %w", paths[i], err)
				}
			}
		default:
			return nil, c.errorf("read files: bad record %q", line)
		}
		out[paths[i]] = st
	}
	return out, nil
}
