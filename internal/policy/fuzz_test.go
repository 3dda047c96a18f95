package policy

import (
	"encoding/json"
	"testing"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// FuzzParseInput feeds stored or uploaded inputs to the parser: it must
// never panic, and whatever it accepts must validate and survive a round
// trip unchanged.
func FuzzParseInput(f *testing.F) {
	b, _ := json.Marshal(baseInput())
	f.Add(b)
	f.Add([]byte(`{"plugin": {"id": "a/b", "version": "1", "first_version": true}, "weight": {"total": 0, "factors": [{"name": "x", "value": 0, "cap": 1}]}}`))
	f.Add([]byte(`{"host_error_rate": 1e400}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInput(data)
		if err != nil {
			return
		}
		if err := in.Validate(); err != nil {
			t.Fatalf("accepted input does not validate: %v", err)
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseInput(again); err != nil {
			t.Fatalf("re-encoded input refused: %v", err)
		}
	})
}
