package tests

import (
	"os"
	"testing"
)

// TestMain lets the test binary double as a child process: with
// PLANLEDGER_TEST_CHILD set it runs that role instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PLANLEDGER_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "appender":
		os.Exit(crashChild())
	default:
		os.Stderr.WriteString("unknown PLANLEDGER_TEST_CHILD\n")
		os.Exit(2)
	}
}
