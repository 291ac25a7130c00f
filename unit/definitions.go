package unit

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/latticepush/latticepush/supervisor"
)

// serviceFiles renders the definition of every service of the host under its supervisor.
func (r *Context) serviceFiles() ([]File, error) {
	sup, err := supervisor.For(r.Host.ServiceManager)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, on := range On(r.Host) {
		svc, err := on.Kind.Service(r)
		if err != nil {
			return nil, err
		}
		defs, err := sup.Definition(r.Header(), svc)
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			kind := FileUnit
			if d.Script {
				kind = FileScript
			}
			files = append(files, File{Path: d.Path, Mode: d.Mode, Content: d.Content, Service: svc.Name, Kind: kind})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// safePathRE is what a path written into a service definition may look like: absolute, with
// no character that systemd (specifiers, quoting) or sh would interpret.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@-]+$`)

func checkPaths(paths map[string]string) error {
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, setting := range keys {
		if p := paths[setting]; !safePathRE.MatchString(p) {
			return fmt.Errorf("%s = %q: want an absolute path of letters, digits and . _ / + @ -", setting, p)
		}
	}
	return nil
}
