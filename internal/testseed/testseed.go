// Package testseed gives random tests their seed: new each run, logged,
// and fixed by TALLY_SEED to replay a failure. It imports nothing of
// Tally's, so that the tests of every package may use it.
package testseed

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// Seed is the seed of a random test: TALLY_SEED when set, else the time;
// it is logged so that a failure can be replayed.
func Seed(t testing.TB) int64 {
	t.Helper()
	s := time.Now().UnixNano()
	if v := os.Getenv("TALLY_SEED"); v != "" {
		fmt.Sscan(v, &s)
	}
	t.Logf("seed %d (set TALLY_SEED to repeat)", s)
	return s
}
