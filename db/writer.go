package db

import (
	"context"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// oneWriter is the SQLite driver with its transactions queued inside the
// process. SQLite runs one write transaction at a time (Till's are all
// BEGIN IMMEDIATE); the others would wait in SQLite's busy handler, which
// sleeps in steps of up to 100 ms, so under load a sale could sit idle long
// after the one before it committed. Queued here, the next transaction
// starts the moment the previous one ends. Only one process writes an
// embedded SQLite file, so a queue in the process is the whole queue.
type oneWriter struct {
	*entsql.Driver
	turn chan struct{}
}

func newOneWriter(drv *entsql.Driver) *oneWriter {
	return &oneWriter{Driver: drv, turn: make(chan struct{}, 1)}
}

// Tx starts a transaction once no other is running.
func (d *oneWriter) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx starts a transaction with options once no other is running.
func (d *oneWriter) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	select {
	case d.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		<-d.turn
		return nil, err
	}
	return &turnTx{Tx: tx, done: sync.OnceFunc(func() { <-d.turn })}, nil
}

// turnTx gives the turn to the next transaction when it ends.
type turnTx struct {
	dialect.Tx
	done func()
}

func (t *turnTx) Commit() error {
	defer t.done()
	return t.Tx.Commit()
}

func (t *turnTx) Rollback() error {
	defer t.done()
	return t.Tx.Rollback()
}
