package server_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/tillpos/till/internal/tilltest"
)

func TestMain(m *testing.M) {
	// Say what the suite runs against, so CI logs show PostgreSQL and Redis
	// were exercised for real.
	fmt.Println("server tests:", tilltest.Backends())
	os.Exit(m.Run())
}
