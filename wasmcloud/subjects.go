package wasmcloud

import (
	"fmt"
	"regexp"
)

// CtlPrefix is the default control-interface subject prefix. A host started with
// WASMCLOUD_CTL_TOPIC_PREFIX uses another one for control subjects, but never for events.
const CtlPrefix = "wasmbus.ctl"

// EventPrefix is the prefix of event subjects, wasmbus.evt.<lattice>.<event name>. It does not
// follow the control prefix.
const EventPrefix = "wasmbus.evt"

// subjectToken is a name safe to put in one subject token (and in a KV bucket name).
var subjectToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidateLattice reports whether name can be a lattice: it becomes a subject token and part of
// the bucket name LATTICEDATA_<name>, so only [A-Za-z0-9_-]+ works.
func ValidateLattice(name string) error {
	if !subjectToken.MatchString(name) {
		return fmt.Errorf("lattice name %q: use only letters, digits, '_' and '-'", name)
	}
	return nil
}

// PingSubject is where every host of the lattice listens for ping (no queue group: all answer).
func PingSubject(lattice string) string { return CtlPrefix + ".v1." + lattice + ".host.ping" }

// HostGetSubject is the directed inventory request for one host.
func HostGetSubject(lattice, hostID string) string {
	return CtlPrefix + ".v1." + lattice + ".host.get." + hostID
}

// HostStopSubject is the directed stop request for one host.
func HostStopSubject(lattice, hostID string) string {
	return CtlPrefix + ".v1." + lattice + ".host.stop." + hostID
}

// HostCommandsSubject is the wildcard a host subscribes to for its directed host.* commands
// (get and stop).
func HostCommandsSubject(lattice, hostID string) string {
	return CtlPrefix + ".v1." + lattice + ".host.*." + hostID
}

// EventSubject is where events named name (e.g. EventHostStarted) are published. With an
// empty name it is the wildcard for every event of the lattice.
func EventSubject(lattice, name string) string {
	if name == "" {
		return EventPrefix + "." + lattice + ".>"
	}
	return EventPrefix + "." + lattice + "." + name
}

// BucketNames are the KV buckets a 1.x host gets or creates at start, in that order:
// LATTICEDATA_<lattice> (component specs, links, claims) and CONFIGDATA_<lattice>.
func BucketNames(lattice string) []string {
	return []string{"LATTICEDATA_" + lattice, "CONFIGDATA_" + lattice}
}
