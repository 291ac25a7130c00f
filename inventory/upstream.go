package inventory

import (
	"net/url"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The NATS system above the hubs: the hub cluster may itself be a leaf of another NATS system
// (a global one, NGS-style), which it dials through any firewall without opening a port:
//
//	upstream {
//	  urls             = ["tls://connect.ngs.global"]
//	  credentials_file = "/etc/nats/upstream.creds"
//	}
//
// Every hub gets a leaf remote to it, binding the lattice account, so the lattice's subjects
// reach that system. The JetStream domain stays homed on the hubs: the upstream runs its own
// JetStream, if any, under its own domain, and `$JS.<domain>.API` keeps answering from the hubs.

// upstreamBlock is `upstream { urls, credentials_file }` as written.
type upstreamBlock struct {
	URLs            []string `hcl:"urls"`
	CredentialsFile *string  `hcl:"credentials_file,optional"`

	DeclRange        hcl.Range `hcl:",def_range"`
	URLsRange        hcl.Range `hcl:"urls,attr_range"`
	CredentialsRange hcl.Range `hcl:"credentials_file,attr_range"`
}

// UpstreamSystem is the NATS system the hubs are leaves of.
type UpstreamSystem struct {
	// URLs are its leafnode URLs (nats-leaf://, nats://, tls://, ws:// or wss://), without
	// passwords.
	URLs []string
	// CredentialsFile is the path, on every hub, of the credentials (JWT and seed) the hubs log
	// in with; the operator puts it there. Empty: none.
	CredentialsFile string
	DeclRange       hcl.Range
}

func resolveUpstreamSystem(b *upstreamBlock) *UpstreamSystem {
	if b == nil {
		return nil
	}
	return &UpstreamSystem{URLs: b.URLs, CredentialsFile: deref(b.CredentialsFile, ""), DeclRange: b.DeclRange}
}

// upstreamSystem checks the upstream block: leafnode URLs of one kind (websocket or not), no
// password in them, and an absolute credentials_file.
func (v *validator) upstreamSystem() {
	b := v.d.fs.Upstream
	if b == nil {
		return
	}
	if len(b.URLs) == 0 {
		v.errorf(b.URLsRange, "No upstream URL",
			"upstream needs the leafnode URLs of the system above the hubs, e.g. urls = [\"tls://connect.ngs.global\"].")
	}
	ws := 0
	for _, raw := range b.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "":
			v.errorf(b.URLsRange, "Invalid upstream URL", "%q is not a URL with a host, e.g. \"tls://connect.ngs.global\" or \"nats-leaf://10.0.9.1:7422\".", raw)
			continue
		case !strings.Contains(" nats nats-leaf tls ws wss ", " "+u.Scheme+" "):
			v.errorf(b.URLsRange, "Invalid upstream URL", "%q: the scheme must be nats-leaf, nats, tls, ws or wss.", raw)
			continue
		}
		if _, hasPassword := u.User.Password(); hasPassword {
			v.errorf(b.URLsRange, "Password in an upstream URL",
				"%q carries a password, which would sit in the inventory and in every plan. Log in with credentials_file (a JWT and seed the hubs hold) instead.", u.Redacted())
		}
		if u.Scheme == "ws" || u.Scheme == "wss" {
			ws++
		}
	}
	if ws > 0 && ws < len(b.URLs) {
		v.errorf(b.URLsRange, "Mixed upstream URLs", "nats-server needs the URLs of one remote to be all websocket (ws, wss) or none.")
	}
	if b.CredentialsFile != nil {
		switch f := *b.CredentialsFile; {
		case !path.IsAbs(f):
			v.errorf(b.CredentialsRange, "Relative path", "credentials_file %q is a path on the hubs and must be absolute.", f)
		case !servicePathRE.MatchString(f):
			v.errorf(b.CredentialsRange, "Unsafe path", "credentials_file %q: use an absolute path of letters, digits and . _ / + @ - only.", f)
		}
	}
}
