package poll

import (
	"context"
	"testing"
	"time"
)

func TestBackoff_DoublesUpToMax(t *testing.T) {
	b := New(time.Millisecond, 5*time.Millisecond)
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next)
		if !b.Wait(context.Background()) {
			t.Fatal("Wait returned false with a live context")
		}
	}
	want := []time.Duration{1, 2, 4, 5, 5}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
}

func TestBackoff_StopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := New(time.Hour, time.Hour)
	if b.Wait(ctx) {
		t.Fatal("Wait returned true with a canceled context")
	}
}

func TestBackoff_ZeroValue(t *testing.T) {
	var b Backoff
	b.Wait(context.Background())
	if b.Next != 20*time.Millisecond || b.Max != time.Second {
		t.Fatalf("zero value after one wait: next %v max %v, want 20ms and 1s", b.Next, b.Max)
	}
}
