package idempotency_test

import (
	"errors"
	"testing"

	"github.com/tillpos/till/idempotency"
)

func TestOnce(t *testing.T) {
	made, other := new(int), new(int)
	errWrite, errLook := errors.New("unique key"), errors.New("lookup")
	none := func() (*int, error) { return nil, nil }
	tests := []struct {
		name         string
		prior        []func() (*int, error) // answers of the first and second look
		write        func() (*int, error)
		want         *int
		wantReplayed bool
		wantErr      error
	}{
		{"new", []func() (*int, error){none}, func() (*int, error) { return made, nil }, made, false, nil},
		{"retry", []func() (*int, error){func() (*int, error) { return other, nil }}, nil, other, true, nil},
		{"lookup fails", []func() (*int, error){func() (*int, error) { return nil, errLook }}, nil, nil, false, errLook},
		{"lost the race", []func() (*int, error){none, func() (*int, error) { return other, nil }},
			func() (*int, error) { return nil, errWrite }, other, true, nil},
		{"write fails", []func() (*int, error){none, none}, func() (*int, error) { return nil, errWrite }, nil, false, errWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			looks := 0
			prior := func(string) (*int, error) {
				looks++
				return tt.prior[looks-1]()
			}
			write := func(string) (*int, error) {
				if tt.write == nil {
					t.Fatal("wrote although the key made something")
				}
				return tt.write()
			}
			got, replayed, err := idempotency.Once("request", prior, write)
			if got != tt.want || replayed != tt.wantReplayed || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Once = %p, %v, %v; want %p, %v, %v", got, replayed, err, tt.want, tt.wantReplayed, tt.wantErr)
			}
		})
	}
}
