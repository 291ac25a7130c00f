package wasmcloud

import (
	"encoding/json"
	"errors"
	"fmt"
)

// CtlResponse is the envelope of every 1.x control-interface reply:
// {"success":bool,"message":"…","response":<T>}. Response is omitted on the wire when there is
// none (errors, and acknowledgements such as host.stop).
type CtlResponse[T any] struct {
	Success  bool   `json:"success"`
	Message  string `json:"message"`
	Response *T     `json:"response,omitempty"`
}

// OK wraps a successful response the way a 1.x host does: success true, empty message.
func OK[T any](response T) CtlResponse[T] {
	return CtlResponse[T]{Success: true, Response: &response}
}

// Failure is the reply a 1.x host sends when it cannot handle a request.
func Failure(message string) CtlResponse[struct{}] {
	return CtlResponse[struct{}]{Message: message}
}

// ErrNotEnvelope means a reply was JSON but not a 1.x CtlResponse, which is what a 0.82 or OTP
// host (bare objects) or some other responder on the subject would send.
var ErrNotEnvelope = errors.New("reply is not a wasmCloud 1.x control envelope")

// DecodeResponse decodes a 1.x reply and returns its payload. It fails when the JSON is
// malformed, when the envelope is missing (ErrNotEnvelope), when the host reports
// success=false (the error carries the host's message), or when a successful reply has no
// payload.
func DecodeResponse[T any](data []byte) (*T, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("decode control reply: %w", err)
	}
	if _, ok := probe["success"]; !ok {
		return nil, ErrNotEnvelope
	}
	var r CtlResponse[T]
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode control reply: %w", err)
	}
	if !r.Success {
		return nil, fmt.Errorf("host refused the request: %q", r.Message)
	}
	if r.Response == nil {
		return nil, errors.New("decode control reply: success without a response payload")
	}
	return r.Response, nil
}

// Host is one host's answer to a ping (Rust type control_interface::Host).
//
// Identify a machine by ID (stable only when the host runs with WASMCLOUD_HOST_SEED) or by a
// label you set; FriendlyName is random on every start and CtlHost/RPCHost are the configured
// URLs, "nats://127.0.0.1:4222" on every leaf-local host.
type Host struct {
	ID            string            `json:"id"` // nkey public key, "N…", 56 characters
	Labels        map[string]string `json:"labels"`
	FriendlyName  string            `json:"friendly_name"`
	Lattice       string            `json:"lattice"`
	JSDomain      string            `json:"js_domain,omitempty"` // configured domain; omitted when unset
	CtlHost       string            `json:"ctl_host,omitempty"`
	RPCHost       string            `json:"rpc_host,omitempty"`
	UptimeHuman   string            `json:"uptime_human,omitempty"` // e.g. "2m 21s"
	UptimeSeconds uint64            `json:"uptime_seconds"`
	Version       string            `json:"version,omitempty"` // e.g. "1.9.2"
}

// HostInventory is a host's reply to host.get.<id>, and the data of its heartbeat event.
// It has no lattice and no js_domain.
type HostInventory struct {
	Components    []ComponentDescription `json:"components"`
	Providers     []ProviderDescription  `json:"providers"`
	HostID        string                 `json:"host_id"`
	FriendlyName  string                 `json:"friendly_name"`
	Labels        map[string]string      `json:"labels"`
	Version       string                 `json:"version"`
	UptimeHuman   string                 `json:"uptime_human"`
	UptimeSeconds uint64                 `json:"uptime_seconds"`
}

// ComponentDescription is one component in a HostInventory. Fields latticepush does not use
// (such as limits) are not modelled.
type ComponentDescription struct {
	ID           string            `json:"id"`
	ImageRef     string            `json:"image_ref"`
	Name         string            `json:"name,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Revision     int32             `json:"revision"`
	MaxInstances uint32            `json:"max_instances"`
}

// ProviderDescription is one capability provider in a HostInventory.
type ProviderDescription struct {
	ID          string            `json:"id"`
	ImageRef    string            `json:"image_ref,omitempty"`
	Name        string            `json:"name,omitempty"`
	Revision    int32             `json:"revision"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StopHostCommand is the optional body of host.stop.<id>. When HostID is set it must equal the
// addressed host. Timeout is in milliseconds; zero means the host's default (10 s).
type StopHostCommand struct {
	HostID  string `json:"host_id,omitempty"`
	Timeout uint64 `json:"timeout,omitempty"`
}
