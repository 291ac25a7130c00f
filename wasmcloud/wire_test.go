package wasmcloud

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fixtureHostID = "NBHM4ZUUR4PKEMPR6F4LQ74ZG6WLZM2WLYVIBDI5VZD6ATMO5THNROLX"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keys returns the top-level keys of a JSON object, or of its "response" member.
func keys(t *testing.T, data []byte, member string) map[string]bool {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if member != "" {
		if err := json.Unmarshal(obj[member], &obj); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]bool{}
	for k := range obj {
		out[k] = true
	}
	return out
}

func TestDecodePingReply(t *testing.T) {
	h, err := DecodeResponse[Host](fixture(t, "ping_reply.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Host{
		ID:           fixtureHostID,
		FriendlyName: "summer-timber-8052",
		Labels: map[string]string{"hostcore.arch": "x86_64", "hostcore.os": "linux",
			"hostcore.osfamily": "unix", "hostname": "node1"},
		Lattice: "default", JSDomain: "hub", Version: "1.9.2",
		UptimeSeconds: 141, UptimeHuman: "2m 21s",
		CtlHost: "nats://127.0.0.1:4222", RPCHost: "nats://127.0.0.1:4222",
	}
	if !reflect.DeepEqual(*h, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", *h, want)
	}

	nd, err := DecodeResponse[Host](fixture(t, "ping_reply_no_domain.json"))
	if err != nil {
		t.Fatal(err)
	}
	if nd.JSDomain != "" || nd.Labels["hostcore.arch"] != "aarch64" {
		t.Fatalf("no-domain reply decoded as %+v", nd)
	}
}

func TestDecodeInventoryReply(t *testing.T) {
	data := fixture(t, "inventory_reply.json")
	inv, err := DecodeResponse[HostInventory](data)
	if err != nil {
		t.Fatal(err)
	}
	if inv.HostID != fixtureHostID || inv.Labels["hostname"] != "node1" || inv.UptimeSeconds != 141 {
		t.Fatalf("inventory decoded as %+v", inv)
	}
	if len(inv.Components) != 1 || inv.Components[0].MaxInstances != 100 || inv.Components[0].Annotations["wasmcloud.dev/appspec"] != "hello" {
		t.Fatalf("components decoded as %+v", inv.Components)
	}
	if len(inv.Providers) != 1 || inv.Providers[0].ImageRef != "ghcr.io/wasmcloud/http-server:0.23.0" {
		t.Fatalf("providers decoded as %+v", inv.Providers)
	}
	// The inventory carries no lattice and no js_domain; neither must our encoding.
	for _, doc := range [][]byte{data, mustMarshal(t, OK(*inv))} {
		k := keys(t, doc, "response")
		if k["lattice"] || k["js_domain"] {
			t.Fatalf("inventory has lattice/js_domain keys: %v", k)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	_, err := DecodeResponse[Host](fixture(t, "error_reply.json"))
	if err == nil || !strings.Contains(err.Error(), "unsupported subject") {
		t.Fatalf("error reply: err = %v, want the host's message", err)
	}
	_, err = DecodeResponse[Host](fixture(t, "legacy_ping_082.json"))
	if !errors.Is(err, ErrNotEnvelope) {
		t.Fatalf("0.82 bare object: err = %v, want ErrNotEnvelope", err)
	}
	_, err = DecodeResponse[HostInventory](fixture(t, "stop_reply.json"))
	if err == nil {
		t.Fatal("success without payload decoded as an inventory")
	}
	if _, err := DecodeResponse[Host]([]byte(`{"success":true,`)); err == nil {
		t.Fatal("truncated JSON decoded")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, name := range []string{"ping_reply.json", "ping_reply_no_domain.json"} {
		orig := fixture(t, name)
		var r CtlResponse[Host]
		if err := json.Unmarshal(orig, &r); err != nil {
			t.Fatal(err)
		}
		enc := mustMarshal(t, r)
		assertSameJSON(t, name, orig, enc)
	}
	for _, name := range []string{"inventory_reply.json", "error_reply.json", "stop_reply.json"} {
		orig := fixture(t, name)
		var r CtlResponse[HostInventory]
		if err := json.Unmarshal(orig, &r); err != nil {
			t.Fatal(err)
		}
		enc := mustMarshal(t, r)
		if name == "inventory_reply.json" {
			// limits is not modelled; everything else must survive.
			orig = []byte(strings.Replace(string(orig), `,"limits":{"max_linear_memory":268435456}`, "", 1))
		}
		assertSameJSON(t, name, orig, enc)
	}
	// A failure has no "response" key at all, as the Rust host's skip_serializing_if.
	if k := keys(t, mustMarshal(t, Failure("boom")), ""); k["response"] || !k["message"] || !k["success"] {
		t.Fatalf("Failure encodes keys %v", k)
	}
}

func TestDecodeEvents(t *testing.T) {
	var started, stopped, beat Event
	for name, e := range map[string]*Event{"event_host_started.json": &started,
		"event_host_stopped.json": &stopped, "event_host_heartbeat.json": &beat} {
		if err := json.Unmarshal(fixture(t, name), e); err != nil {
			t.Fatal(name, err)
		}
		if e.HostID() != fixtureHostID || e.SpecVersion != "1.0" || e.Time.IsZero() {
			t.Fatalf("%s: envelope decoded as %+v", name, e)
		}
		assertSameJSON(t, name, fixture(t, name), mustMarshal(t, e))
	}
	if started.Name() != EventHostStarted || stopped.Name() != EventHostStopped || beat.Name() != EventHostHeartbeat {
		t.Fatalf("names: %q %q %q", started.Name(), stopped.Name(), beat.Name())
	}
	var s HostStarted
	if err := started.DecodeData(&s); err != nil || s.Version != "1.9.2" || s.Labels["hostname"] != "node1" {
		t.Fatalf("host_started data %+v, %v", s, err)
	}
	if keys(t, started.Data, "")["host_id"] {
		t.Fatal("host_started data has host_id; the 1.9.2 host does not send it")
	}
	var st HostStopped
	if err := stopped.DecodeData(&st); err != nil || st.Labels["hostcore.os"] != "linux" {
		t.Fatalf("host_stopped data %+v, %v", st, err)
	}
	var inv HostInventory
	if err := beat.DecodeData(&inv); err != nil || inv.HostID != fixtureHostID || inv.UptimeSeconds != 30 {
		t.Fatalf("heartbeat data %+v, %v", inv, err)
	}
}

func TestNewEvent(t *testing.T) {
	e, err := NewEvent(EventHostStopped, fixtureHostID, HostStopped{Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != "com.wasmcloud.lattice.host_stopped" || e.Source != fixtureHostID ||
		e.DataContentType != "application/json" || time.Since(e.Time) > time.Minute || len(e.ID) != 36 {
		t.Fatalf("NewEvent = %+v", e)
	}
	other, _ := NewEvent(EventHostStopped, fixtureHostID, nil)
	if other.ID == e.ID {
		t.Fatal("two events share an id")
	}
}

func TestSubjects(t *testing.T) {
	for got, want := range map[string]string{
		PingSubject("default"):                  "wasmbus.ctl.v1.default.host.ping",
		HostGetSubject("lat-1", fixtureHostID):  "wasmbus.ctl.v1.lat-1.host.get." + fixtureHostID,
		HostStopSubject("default", "N1"):        "wasmbus.ctl.v1.default.host.stop.N1",
		HostCommandsSubject("default", "N1"):    "wasmbus.ctl.v1.default.host.*.N1",
		EventSubject("default", "host_started"): "wasmbus.evt.default.host_started",
		EventSubject("default", ""):             "wasmbus.evt.default.>",
	} {
		if got != want {
			t.Errorf("subject %q, want %q", got, want)
		}
	}
	if got := BucketNames("x_1"); !reflect.DeepEqual(got, []string{"LATTICEDATA_x_1", "CONFIGDATA_x_1"}) {
		t.Errorf("BucketNames = %v", got)
	}
	for _, bad := range []string{"", "a.b", "a b", "a>", "*", "lät"} {
		if ValidateLattice(bad) == nil {
			t.Errorf("lattice %q accepted", bad)
		}
	}
	if err := ValidateLattice("Prod_east-1"); err != nil {
		t.Error(err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertSameJSON(t *testing.T, name string, want, got []byte) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: round trip changed the document\nwant %s\ngot  %s", name, want, got)
	}
}
