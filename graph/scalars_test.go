package graph

import (
	"bytes"
	"testing"
	"time"
)

func TestTimeIsUTCOnTheWire(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	var out bytes.Buffer
	MarshalTime(time.Date(2026, 3, 1, 9, 30, 0, 0, shanghai)).MarshalGQL(&out)
	if got, want := out.String(), `"2026-03-01T01:30:00Z"`; got != want {
		t.Errorf("MarshalTime = %s, want %s", got, want)
	}

	in, err := UnmarshalTime("2026-03-01T09:30:00+08:00")
	if err != nil || in.Location() != time.UTC || in.Hour() != 1 {
		t.Errorf("UnmarshalTime = %v, %v; want 01:30 UTC", in, err)
	}
	if _, err := UnmarshalTime("yesterday"); err == nil {
		t.Error("UnmarshalTime(yesterday) succeeded; want an error")
	}
}
