package unit

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
)

// TestGraphDot feeds the graph of every example to Graphviz's dot and checks that every host
// and the hub domain are in the picture. With -update it also writes docs/edge-topology.svg,
// the README's picture of the edge example.
func TestGraphDot(t *testing.T) {
	dot := testenv.RequireCommand(t, "dot")
	for _, name := range examples(t) {
		inv := loadExample(t, name)
		g := Graph(inv)
		if !bytes.Equal(g, Graph(inv)) {
			t.Errorf("%s: two graphs differ", name)
		}
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = bytes.NewReader(g)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		svg, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%s: dot rejects the graph: %v %s\n%s", name, err, stderr.String(), g)
		}
		for _, h := range inv.Hosts {
			if !bytes.Contains(g, []byte(`label="`+h.Name+`\n`)) {
				t.Errorf("%s: host %s missing from the picture", name, h.Name)
			}
		}
		if !bytes.Contains(g, []byte("domain "+inv.Lattice.JSDomain)) {
			t.Errorf("%s: the hub domain is missing from the picture", name)
		}
		if strings.Contains(string(g), "secret") {
			t.Errorf("%s: the graph mentions a secret", name)
		}
		if name == "edge" && *update {
			if err := os.WriteFile("../../docs/edge-topology.svg", svg, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
