package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// planFileKind marks a latticepush plan file.
const planFileKind = "latticepush-plan"

// planFile is the on-disk envelope: the plan's JSON and a checksum over exactly those bytes.
// The plan holds no secret: file contents appear only as hashes and redacted diffs.
type planFile struct {
	Kind          string          `json:"kind"`
	FormatVersion string          `json:"format_version"`
	Checksum      string          `json:"checksum"`
	Plan          json.RawMessage `json:"plan"`
}

// ErrPlanFile is returned for a file that is not a readable, intact plan.
var ErrPlanFile = errors.New("not a valid latticepush plan file")

// Write encodes the plan as a plan file. The caller writes it with mode 0600.
func Write(w io.Writer, p *Plan) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	sum := sha256.Sum256(body)
	env := planFile{Kind: planFileKind, FormatVersion: FormatVersion, Checksum: "sha256:" + hex.EncodeToString(sum[:]), Plan: body}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(env)
}

// Read decodes a plan file, refusing one of another kind or major version, or one whose
// checksum does not match (edited or damaged). It never panics on any input.
func Read(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var env planFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlanFile, err)
	}
	if env.Kind != planFileKind {
		return nil, fmt.Errorf("%w: kind %q", ErrPlanFile, env.Kind)
	}
	if major(env.FormatVersion) != major(FormatVersion) {
		return nil, fmt.Errorf("%w: format version %s, this latticepush reads %s.x; plan again",
			ErrPlanFile, env.FormatVersion, major(FormatVersion))
	}
	compact := new(bytes.Buffer)
	if err := json.Compact(compact, env.Plan); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlanFile, err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if env.Checksum != "sha256:"+hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("%w: its checksum does not match its content (edited or damaged); plan again", ErrPlanFile)
	}
	var p Plan
	if err := json.Unmarshal(compact.Bytes(), &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlanFile, err)
	}
	if p.Fingerprints == nil {
		return nil, fmt.Errorf("%w: no fingerprints", ErrPlanFile)
	}
	return &p, nil
}

// CheckVariables refuses a saved plan made with other inventory variable values than those
// whose digest is given (inventory.Inventory.VariablesDigest).
func CheckVariables(saved *Plan, digest string) error {
	if saved.VariablesDigest == digest {
		return nil
	}
	return errors.New("the plan was made with other inventory variable values (-var, -var-file, LATTICEPUSH_VAR_*, defaults): pass the values the plan was made with, or plan again")
}

func major(v string) string {
	if i := strings.IndexByte(v, '.'); i >= 0 {
		return v[:i]
	}
	return v
}

// StaleReasons compares a saved plan with one built now from the same inventory file and
// fresh observations. It returns why the saved plan no longer holds (empty when it does):
// the inventory or its secrets changed, a host's observed facts changed (including a host
// that was empty, or unreachable, at plan time), or the decisions differ.
func StaleReasons(saved, fresh *Plan) []string {
	var why []string
	if saved.InventoryDigest != fresh.InventoryDigest {
		why = append(why, "the inventory changed since the plan was made")
	}
	if err := CheckVariables(saved, fresh.VariablesDigest); err != nil {
		why = append(why, err.Error())
	}
	hosts := map[string]bool{}
	for h := range saved.Fingerprints {
		hosts[h] = true
	}
	for h := range fresh.Fingerprints {
		hosts[h] = true
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		s, okS := saved.Fingerprints[h]
		f, okF := fresh.Fingerprints[h]
		switch {
		case !okS:
			why = append(why, h+": not in the saved plan")
		case !okF:
			why = append(why, h+": in the saved plan but not selected now")
		case s != f:
			why = append(why, h+": what was observed on the host changed since the plan was made")
		}
	}
	if len(why) > 0 {
		return why
	}
	if a, b := decisions(saved), decisions(fresh); a != b {
		why = append(why, "the planned actions differ from what the inventory and hosts give now (rendered files or secrets changed)")
	}
	// A peer the saved plan removes must still be one to remove, and no other: a member that
	// came back online, or one lost since, is another decision.
	ids := func(p *Plan) string {
		var out []string
		for _, r := range p.PeerRemovals {
			out = append(out, r.Name+" "+r.Peer)
		}
		return strings.Join(out, ", ")
	}
	if a, b := strings.Join(removedPeers(saved), ", "), strings.Join(removedPeers(fresh), ", "); a != b || ids(saved) != ids(fresh) {
		why = append(why, fmt.Sprintf("the JetStream peers to remove changed since the plan was made: [%s], now [%s]", a, b))
	}
	return why
}

// decisions is a canonical text of every unit's action and desired file hashes.
func decisions(p *Plan) string {
	var b strings.Builder
	units := append([]*Unit(nil), p.Units...)
	sort.Slice(units, func(i, j int) bool { return units[i].ID() < units[j].ID() })
	for _, u := range units {
		fmt.Fprintf(&b, "%s %s start=%v enable=%v\n", u.ID(), u.Action, u.Start, u.Enable)
		if u.User != "" {
			fmt.Fprintf(&b, "  user %s\n", u.User)
		}
		for _, f := range u.Files {
			fmt.Fprintf(&b, "  %s %s %s %o\n", f.Path, f.Op, f.NewSHA256, f.Mode)
			if f.Group != "" {
				fmt.Fprintf(&b, "  group %s\n", f.Group)
			}
		}
	}
	for _, w := range p.Waves {
		fmt.Fprintf(&b, "wave %s %v %v\n", w.Name, w.Batches, w.GateOnly)
	}
	if p.Cutover != nil {
		fmt.Fprintf(&b, "cutover %s %s %v\n", p.Cutover.From, p.Cutover.To, p.Cutover.Alias)
	}
	return b.String()
}
