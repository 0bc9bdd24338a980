package tests

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary double as a child process: with
// PLANLEDGER_TEST_CHILD set it runs that role instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PLANLEDGER_TEST_CHILD") {
	case "":
		goleak.VerifyTestMain(m) // no server, connection or consumer left running

	case "appender":
		os.Exit(crashChild())
	default:
		os.Stderr.WriteString("unknown PLANLEDGER_TEST_CHILD\n")
		os.Exit(2)
	}
}
