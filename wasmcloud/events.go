package wasmcloud

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event names, the last token of the event subject and the suffix of the CloudEvent type.
const (
	EventHostStarted   = "host_started"
	EventHostStopped   = "host_stopped"
	EventHostHeartbeat = "host_heartbeat"
)

// EventTypePrefix prefixes every CloudEvent type a 1.x host emits.
const EventTypePrefix = "com.wasmcloud.lattice."

// Event is the CloudEvents 1.0 JSON envelope a 1.x host publishes on wasmbus.evt.<lattice>.<name>
// with core NATS (fire and forget: a late subscriber misses it).
type Event struct {
	SpecVersion     string          `json:"specversion"` // "1.0"
	ID              string          `json:"id"`
	Type            string          `json:"type"`   // EventTypePrefix + name
	Source          string          `json:"source"` // the publishing host's id
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"` // "application/json"
	Data            json.RawMessage `json:"data,omitempty"`
}

// Name is the event name without EventTypePrefix, e.g. "host_started".
func (e Event) Name() string { return strings.TrimPrefix(e.Type, EventTypePrefix) }

// HostID is the id of the host that published the event. host_started and host_stopped carry
// it only here, never in their data.
func (e Event) HostID() string { return e.Source }

// DecodeData decodes the event's data into v: a *HostStarted, *HostStopped or, for a
// heartbeat, a *HostInventory.
func (e Event) DecodeData(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("%s event from %s has no data", e.Name(), e.Source)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s event data: %w", e.Name(), err)
	}
	return nil
}

// HostStarted is the data of host_started as the 1.9.2 host sends it (the docs' host_id field
// is not on the wire; use Event.HostID).
type HostStarted struct {
	FriendlyName  string            `json:"friendly_name"`
	Labels        map[string]string `json:"labels"`
	UptimeSeconds uint64            `json:"uptime_seconds"` // always 0
	Version       string            `json:"version"`
}

// HostStopped is the data of host_stopped: only the labels (no host_id, no reason).
type HostStopped struct {
	Labels map[string]string `json:"labels"`
}

// NewEvent builds the envelope a host with id source publishes for event name, with a fresh
// random id and the current time.
func NewEvent(name, source string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event data: %w", name, err)
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              newUUID(),
		Type:            EventTypePrefix + name,
		Source:          source,
		Time:            time.Now().UTC(),
		DataContentType: "application/json",
		Data:            raw,
	}, nil
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
