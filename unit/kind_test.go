package unit

import "testing"

// TestKinds_BuiltIn: nats-server and the wasmCloud host, in that order, on the hosts and in
// the roles the inventory gives them; their gates.
func TestKinds_BuiltIn(t *testing.T) {
	inv := loadExample(t, "lab")
	for _, h := range inv.Hosts {
		var got []string
		for _, on := range On(h) {
			got = append(got, on.Kind.Name()+":"+string(on.Role))
		}
		want := []string{"nats-server:hub"}
		if h.Leaf != nil {
			want = []string{"nats-server:leaf", "wasmcloud:wasmcloud"}
		}
		if len(got) != len(want) || got[0] != want[0] || (len(want) > 1 && got[1] != want[1]) {
			t.Errorf("%s: kinds %v, want %v", h.Name, got, want)
		}
	}
	if a, r := Named(ServiceNATS).Gates(RoleHub); a != GateHubNode || r != GateHubNode {
		t.Errorf("hub gates %s/%s", a, r)
	}
	if a, r := Named(ServiceWasmcloud).Gates(RoleWasmcloud); a != GateWasmcloud || r != GateWasmcloudAnswers {
		t.Errorf("wasmcloud gates %s/%s", a, r)
	}
}

type dupKind struct{ natsServer }

// TestRegister_TwiceIsRefused: two kinds with one name would render the same files twice.
func TestRegister_TwiceIsRefused(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a second nats-server kind was registered")
		}
	}()
	Register(dupKind{})
}

// TestClassify_NATSConfig: a reloadable key reloads, a listen port restarts, a mode change
// does nothing; the wasmCloud host restarts on any change.
func TestClassify_NATSConfig(t *testing.T) {
	old := []byte("listen: \"0.0.0.0:4222\"\ndebug: false\n")
	for _, c := range []struct {
		new  string
		op   string
		want Effect
	}{
		{"listen: \"0.0.0.0:4222\"\ndebug: true\n", "update", Reload},
		{"listen: \"0.0.0.0:4223\"\ndebug: false\n", "update", Restart},
		{string(old), "mode", None},
	} {
		d := natsServer{}.Classify(Change{Version: "2.15.2", Files: []ChangedFile{{Path: "/etc/nats/nats-server.conf", Kind: FileNATSConfig, Op: c.op, Old: old, New: []byte(c.new)}}})
		if d.Effect != c.want {
			t.Errorf("%q (%s): %v %v, want %v", c.new, c.op, d.Effect, d.Reasons, c.want)
		}
	}
	if d := (wasmcloudHost{}).Classify(Change{Files: []ChangedFile{{Op: "mode"}}}); d.Effect != Restart {
		t.Errorf("wasmcloud: %v", d)
	}
}
