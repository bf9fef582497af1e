package pulid

import "testing"

func TestNewHasPrefixAndIsUnique(t *testing.T) {
	seen := map[ID]bool{}
	for range 1000 {
		id := New("stf")
		if got := id.Prefix(); got != "stf" {
			t.Fatalf("Prefix(%q) = %q, want stf", id, got)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestPrefixRejectsMalformed(t *testing.T) {
	for _, id := range []ID{"", "stf", "stf_", "stf_short", "nounderscore01JD7X0Q2N3V4W5X6Y7Z8A9B0C"} {
		if got := id.Prefix(); got != "" {
			t.Errorf("Prefix(%q) = %q, want empty", id, got)
		}
	}
}

func TestUnmarshalGQL(t *testing.T) {
	want := New("sto")
	for _, in := range []any{string(want), want} {
		var got ID
		if err := got.UnmarshalGQL(in); err != nil || got != want {
			t.Errorf("UnmarshalGQL(%T) = %q, %v; want %q", in, got, err, want)
		}
	}
	var got ID
	if err := got.UnmarshalGQL(42); err == nil {
		t.Error("UnmarshalGQL(42) succeeded; want an error")
	}
}
