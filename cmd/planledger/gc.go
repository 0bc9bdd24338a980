package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// A command that reads a whole log (replay, verify, export, import,
// check-view) allocates a few hundred bytes per record, millions of times,
// over a small live heap (the views, the server's caches): with Go's
// default GOGC of 100 it collects garbage every few megabytes, and a
// replay of 1,000,000 records spent a fifth of its time on that (8.3 s
// against 6.6 s at GOGC=400, five alternating runs each, peak RSS 90 MiB
// against 170 MiB). These commands run to an end and give their memory
// back, so they trade memory for time: GOGC=400, with a soft limit of half
// the memory they may use (the machine's, or their container's) so that a
// very large live heap is collected before it crowds the machine. GOGC or
// GOMEMLIMIT in the environment win.
// serve keeps the defaults: it runs for months, and its start measured
// no faster at GOGC=200 for 40 MiB more.

// readerGCPercent is the GOGC of the commands that read a whole log.
const readerGCPercent = 400

// logReaders are those commands.
var logReaders = map[string]bool{"replay": true, "verify": true, "export": true, "import": true, "check-view": true}

// tuneGC sets the collector for command cmd, unless the environment does
// (GOGC set, even to off, leaves both settings alone).
func tuneGC(cmd string) {
	if !logReaders[cmd] {
		return
	}
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(readerGCPercent)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		if total := memoryAvailable(); total > 0 {
			debug.SetMemoryLimit(total / 2)
		}
	}
}

// memoryAvailable is the memory this process may use, in bytes: the
// machine's (MemTotal in /proc/meminfo), or its control group's limit
// where that is lower (a container sees the host's MemTotal); 0 where
// neither can be read.
func memoryAvailable() int64 {
	total := memTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && limit > 0 && (total == 0 || limit < total) {
			total = limit // "max" (no limit) does not parse
		}
		break
	}
	return total
}

// memTotal is the machine's memory in bytes from /proc/meminfo, 0 where
// it cannot be read.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
