package wasmcloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeResponse feeds arbitrary bytes to the control-interface reply decoder for every
// payload type the client reads: it returns a payload or an error, never panics, and a payload
// comes only from a successful envelope. Seeds: the recorded replies in testdata/ plus the
// corpus in testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	addTestdata(f)
	f.Add([]byte(`{"success":true,"message":"","response":null}`))
	f.Add([]byte(`{"success":"yes"}`))
	f.Add([]byte(`{"success":true,"response":[1,2]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := DecodeResponse[Host](data); (h == nil) == (err == nil) {
			t.Fatalf("Host: payload %v with error %v", h, err)
		}
		if inv, err := DecodeResponse[HostInventory](data); err == nil {
			var env struct{ Success bool }
			if json.Unmarshal(data, &env) != nil || !env.Success || inv == nil {
				t.Fatalf("HostInventory decoded from an unsuccessful or broken envelope: %q", data)
			}
		}
		_, _ = DecodeResponse[[]Host](data)
		_, _ = DecodeResponse[struct{}](data)
	})
}

// FuzzEvent feeds arbitrary bytes to the CloudEvent decoding the client does (the envelope,
// then its data as host_started, host_stopped or a heartbeat's inventory): errors, never a
// panic.
func FuzzEvent(f *testing.F) {
	addTestdata(f)
	f.Add([]byte(`{"specversion":"1.0","type":"com.wasmcloud.lattice.host_started","source":"N","time":"2025-01-01T00:00:00Z","data":{"labels":{"a":"b"}}}`))
	f.Add([]byte(`{"type":"com.wasmcloud.lattice.host_stopped","data":"x"}`))
	f.Add([]byte(`{"time":"yesterday"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			return
		}
		_, _ = e.Name(), e.HostID()
		var started HostStarted
		var stopped HostStopped
		var inv HostInventory
		for _, v := range []any{&started, &stopped, &inv} {
			if err := e.DecodeData(v); err == nil && len(e.Data) == 0 {
				t.Fatalf("data decoded from an event without data: %q", data)
			}
		}
	})
}

// addTestdata adds every recorded reply and event in testdata/ to the seed corpus.
func addTestdata(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no recorded replies in testdata/: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
