package tests

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"planledger/eventstore/eventstoretest"
)

// TestMain lets the test binary double as a child process: with
// PLANLEDGER_TEST_CHILD set it runs that role instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PLANLEDGER_TEST_CHILD") {
	case "":
		// No server, connection or consumer left running; the binary the
		// tests built is removed.
		goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
			if binPath != "" {
				_ = os.RemoveAll(filepath.Dir(binPath))
			}
			eventstoretest.RemoveServerBinary()
			os.Exit(code)
		}))

	case "appender":
		os.Exit(crashChild())
	case "rawread":
		os.Exit(rawReadChild())
	default:
		os.Stderr.WriteString("unknown PLANLEDGER_TEST_CHILD\n")
		os.Exit(2)
	}
}
