package eventstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test stops the servers, connections and consumers it starts.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
