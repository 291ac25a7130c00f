// Package standin builds the lab's wasmCloud host stand-in, a test double of the wasmCloud 1.x
// host binary (see the package doc of internal/lab/wasmcloud-standin). The lab installs the
// result as /usr/local/bin/wasmcloud on its hosts. Without this package:
//
//	go build -o /usr/local/bin/wasmcloud ./internal/lab/wasmcloud-standin
package standin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// BinaryName is the file name Build writes: the real host's binary name.
const BinaryName = "wasmcloud"

// Build compiles the stand-in into dir/wasmcloud and returns that path. It needs the Go
// toolchain on PATH (go test provides it) and this module's source tree, found next to this
// file, so it works in tests and in the lab but not in a -trimpath build.
func Build(ctx context.Context, dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	src := filepath.Dir(filepath.Dir(file))
	if !ok || !filepath.IsAbs(src) {
		return "", fmt.Errorf("build wasmcloud stand-in: source directory unknown (built with -trimpath?)")
	}
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		return "", fmt.Errorf("build wasmcloud stand-in: %w", err)
	}
	out, err := filepath.Abs(filepath.Join(dir, BinaryName))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = src
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build wasmcloud stand-in: %w\n%s", err, msg)
	}
	return out, nil
}
