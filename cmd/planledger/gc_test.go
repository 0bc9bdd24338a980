package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: the commands that read a whole log collect garbage less
// often, unless the environment says otherwise; serve keeps the defaults.
func TestTuneGC(t *testing.T) {
	gcPercent := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	defer debug.SetGCPercent(gcPercent())
	defer debug.SetMemoryLimit(limit())
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(env); ok {
			t.Setenv(env, v) // restored afterwards
			os.Unsetenv(env)
		}
	}
	const noLimit = int64(1<<63 - 1)

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(noLimit)
	tuneGC("serve")
	if gcPercent() != 100 || limit() != noLimit {
		t.Fatalf("serve: GOGC %d, limit %d; want the defaults", gcPercent(), limit())
	}
	tuneGC("replay")
	if gcPercent() != readerGCPercent {
		t.Errorf("replay: GOGC %d, want %d", gcPercent(), readerGCPercent)
	}
	switch total := memoryAvailable(); {
	case total > 0 && limit() != total/2:
		t.Errorf("replay: memory limit %d with %d bytes of memory; want half", limit(), total)
	case total == 0 && limit() != noLimit:
		t.Errorf("replay: memory limit %d where the memory is unknown; want none", limit())
	}

	for _, env := range [][2]string{{"GOGC", "150"}, {"GOGC", "off"}, {"GOMEMLIMIT", "1GiB"}} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(noLimit)
		t.Run(env[0]+"="+env[1], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			tuneGC("verify")
			switch {
			case env[0] == "GOGC" && (gcPercent() != 100 || limit() != noLimit):
				t.Errorf("GOGC %d, limit %d; with GOGC set, want both untouched", gcPercent(), limit())
			case env[0] == "GOMEMLIMIT" && (gcPercent() != readerGCPercent || limit() != noLimit):
				t.Errorf("GOGC %d, limit %d; with GOMEMLIMIT set, want GOGC %d and the limit untouched", gcPercent(), limit(), readerGCPercent)
			}
		})
	}
}
