package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// level orders log severities as the real host's WASMCLOUD_LOG_LEVEL does.
type level int

const (
	levelTrace level = iota
	levelDebug
	levelInfo
	levelWarn
	levelError
)

var levelNames = map[string]level{
	"trace": levelTrace, "debug": levelDebug, "info": levelInfo, "warn": levelWarn, "error": levelError,
}

func (l level) String() string {
	return [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}[l]
}

// logger writes plain-text lines shaped like the real host's default (tracing fmt) output:
//
//	2026-02-04T10:15:30.123456Z  INFO wasmcloud_host::wasmbus: wasmCloud host started host_id=N…
//
// It is safe for concurrent use.
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	min level
}

func newLogger(w io.Writer, min level) *logger { return &logger{w: w, min: min} }

func (l *logger) debug(msg string, kv ...any) { l.log(levelDebug, msg, kv) }
func (l *logger) info(msg string, kv ...any)  { l.log(levelInfo, msg, kv) }
func (l *logger) warn(msg string, kv ...any)  { l.log(levelWarn, msg, kv) }
func (l *logger) error(msg string, kv ...any) { l.log(levelError, msg, kv) }

func (l *logger) log(lv level, msg string, kv []any) {
	if lv < l.min {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %5s wasmcloud_host::wasmbus: %s", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), lv, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		v := fmt.Sprint(kv[i+1])
		if v == "" || strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %v=%s", kv[i], v)
	}
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, b.String())
}
