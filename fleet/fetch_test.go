package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// TestFetchScript runs the host's fetch under sh with this machine's curl and wget against a
// loopback server: the release is fetched into the upload directory and checked; a 404, a
// different file (checksum mismatch) and a server that stalls are refused, each leaving no
// file behind; the URL's query string never shows in what the script prints.
func TestFetchScript(t *testing.T) {
	release := releaseArchive(t, "2.15.3")
	sum := sha256.Sum256(release)
	want := hex.EncodeToString(sum[:])
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/release.tar.gz":
			w.Write(release)
		case "/other.tar.gz":
			w.Write(releaseArchive(t, "2.15.4"))
		case "/stall.tar.gz":
			w.Header().Set("Content-Length", "100000")
			w.Write(release[:100])
			w.(http.Flusher).Flush()
			select {
			case <-stop:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(stop)
	for _, tool := range []string{"curl", "wget"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Errorf("%s is not installed here: the test needs it (apt-get install %s)", tool, tool)
			continue
		}
		t.Run(tool, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ".uploads")
			fetch := func(path string, size ...string) (string, error) {
				cmd := exec.Command("sh", "-c", fetchScript, "latticepush", dir, "2.15.3-release.tar.gz", want, tool, "2", "20", strings.Join(size, ""))
				u := srv.URL + path + "?token=s3cret"
				cmd.Stdin = strings.NewReader(u + "\n")
				b, err := cmd.CombinedOutput()
				out := redactIn(string(b), u)
				if strings.Contains(out, "s3cret") {
					t.Errorf("%s: the message shows the query string: %s", path, out)
				}
				return out, err
			}
			out, err := fetch("/release.tar.gz")
			if err != nil {
				t.Fatalf("fetch: %v: %s", err, out)
			}
			p, size, _ := strings.Cut(strings.TrimSpace(out), " ")
			if got, err := os.ReadFile(p); err != nil || string(got) != string(release) || filepath.Dir(p) != dir || size != strconv.Itoa(len(release)) {
				t.Fatalf("fetched %q (size %s): %v", p, size, err)
			}
			os.Remove(p)
			if out, err := fetch("/release.tar.gz", strconv.Itoa(len(release))); err != nil {
				t.Fatalf("fetch with its size declared: %v: %s", err, out)
			} else {
				p, _, _ := strings.Cut(strings.TrimSpace(out), " ")
				os.Remove(p)
			}
			// A declared size the file does not have is refused (curl stops at a larger one).
			for _, size := range []string{"100", strconv.Itoa(len(release) + 1)} {
				out, err := fetch("/release.tar.gz", size)
				if err == nil || !(strings.Contains(out, "the inventory's size says "+size) || strings.Contains(out, "Maximum file size exceeded")) {
					t.Errorf("declared size %s: %v: %q", size, err, out)
				}
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Errorf("declared size %s: left %v", size, left)
				}
			}
			for path, msg := range map[string]string{
				"/missing.tar.gz": map[string]string{"curl": "404", "wget": "the server answered with an error status"}[tool],
				"/other.tar.gz":   "has sha256 ",
				"/stall.tar.gz":   map[string]string{"curl": "Operation too slow", "wget": "network failure"}[tool],
			} {
				began := time.Now()
				out, err := fetch(path)
				if err == nil || !strings.Contains(out, msg) {
					t.Errorf("%s: %v: %q, want a failure saying %q", path, err, out, msg)
				}
				if path == "/stall.tar.gz" && time.Since(began) > 15*time.Second {
					t.Errorf("a stall was abandoned after %s, want about 2 s", time.Since(began))
				}
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Errorf("%s: left %v in the upload directory", path, left)
				}
			}
		})
	}
}

// TestArtifactName: the file name kept on the host never carries a URL's query string.
func TestArtifactName(t *testing.T) {
	for src, want := range map[string]string{
		"/srv/dist/nats-server-v2.15.3-linux-amd64.tar.gz":                     "2.15.3-nats-server-v2.15.3-linux-amd64.tar.gz",
		"https://h.example/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz?t=1": "2.15.3-nats-server-v2.15.3-linux-amd64.tar.gz",
		"https://h.example/":        "2.15.3-artifact",
		"https://h.example/a%20b$c": "2.15.3-a_b_c",
	} {
		if got := artifactName(plan.Upgrade{To: "2.15.3", Source: src}); got != want {
			t.Errorf("artifactName(%q) = %q, want %q", src, got, want)
		}
	}
}
