package plan

import (
	"path"
	"regexp"
	"slices"
	"sort"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
)

// CASweep is what goes of a server's CA files once it runs a config that names other ones (a
// CA rotation's steps, each a reload): every managed CA file of its TLS directory,
// <Prefix><serial>.pem or <Prefix><new>-<old>.pem, but Keep, the ones the new config names.
// Removed once the unit's gate passed: until then a rollback needs the previous ones.
type CASweep struct {
	Prefix string   `json:"prefix"`
	Keep   []string `json:"keep"`
	// Previous are the CA files the running config names and the new one does not.
	Previous []string `json:"previous"`
}

// managedCAName is the name of a CA file latticepush writes (unit/tls.go): the serial of the
// fleet CA, during a rotation the new CA's and the retiring one's.
var managedCAName = regexp.MustCompile(`^ca-[0-9a-f]+(-[0-9a-f]+)?\.pem$`)

// planCASweep records, for each running nats-server whose change moves its config to other
// managed CA files, the sweep of the ones it no longer names. Only a managed CA: its files are
// latticepush's, in latticepush's directory; an operator's CA file is the operator's.
func planCASweep(inv *inventory.Inventory, facts map[string]Facts, p *Plan) {
	if t := inv.Lattice.TLS; t == nil || !t.Managed {
		return
	}
	for _, u := range p.Units {
		if u.Service != ServiceNATS || !u.WasRunning || (u.Action != Reload && u.Action != Restart) {
			continue
		}
		have := facts[u.Host].Files[u.ConfigPath].Content
		var want []byte
		for _, fc := range u.Files {
			if fc.Path == u.ConfigPath {
				want = fc.Content()
			}
		}
		if have == nil || want == nil {
			continue
		}
		keep := configCAs(want)
		if len(keep) == 0 {
			continue
		}
		dir := path.Dir(keep[0])
		managed := path.Base(dir) == "tls"
		for _, c := range keep {
			managed = managed && path.Dir(c) == dir && managedCAName.MatchString(path.Base(c))
		}
		var prev []string
		for _, c := range configCAs(have) {
			if !slices.Contains(keep, c) && path.Dir(c) == dir && managedCAName.MatchString(path.Base(c)) {
				prev = append(prev, c)
			}
		}
		if managed && len(prev) > 0 {
			u.CASweep = &CASweep{Prefix: dir + "/ca-", Keep: keep, Previous: prev}
		}
	}
}

// configCAs are the CA files a nats-server config names (every tls block's ca_file), sorted.
func configCAs(config []byte) []string {
	m, err := conf.Parse(string(config))
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "ca_file" {
					seen[s] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(m)
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
