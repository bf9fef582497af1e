package db

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent"
)

// SQLite transactions take turns in the process: never two at once, every
// one commits (none fails on SQLite's busy timeout), and the turn passes on
// after a commit, a rollback and a failed start alike.
func TestSQLiteTransactionsTakeTurns(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 8)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			err := WithTx(sys(t), d.Client, func(tx *ent.Tx) error {
				now := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				if _, err := createOperator(sys(t), tx, fmt.Sprintf("op%d@turns.example", i)); err != nil {
					return err
				}
				if i%4 == 0 {
					return fmt.Errorf("rolled back on purpose")
				}
				return nil
			})
			if i%4 != 0 {
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), most.Load(), "one transaction at a time")
	require.Equal(t, 30, countOperators(t, d), "every transaction not rolled back committed")

	// A transaction waiting for its turn gives up with its context.
	hold, err := d.Client.Tx(sys(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(sys(t))
	cancel()
	_, err = d.Client.Tx(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, hold.Rollback())
	next, err := d.Client.Tx(sys(t))
	require.NoError(t, err, "the turn passed on after the rollback")
	require.NoError(t, next.Commit())
}
