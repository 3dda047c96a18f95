package interop

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestStandardWebhooksVerifiesDeliveries: every delivery the marketplace
// sent while a plugin went from key registration to certificate verified,
// on arrival, with the Standard Webhooks reference library (its Verify,
// timestamp tolerance included) under the secret `webhook add` printed;
// and each body has the specification's shape (type, timestamp, data).
func TestStandardWebhooksVerifiesDeliveries(t *testing.T) {
	w := getWorld(t)
	got := w.receiver.deliveries()
	if len(got) < 5 {
		t.Fatalf("the receiver got %d deliveries; the life of a plugin makes more", len(got))
	}
	ids := map[string]bool{}
	types := map[string]bool{}
	for i, d := range got {
		if d.verified != nil {
			t.Errorf("delivery %d (webhook-id %s) did not verify with standardwebhooks: %v\n%s", i, d.header.Get("webhook-id"), d.verified, d.body)
		}
		id := d.header.Get("webhook-id")
		if ids[id] {
			t.Errorf("webhook-id %s sent for two different deliveries", id)
		}
		ids[id] = true
		var payload struct {
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(d.body, &payload); err != nil || payload.Type == "" || payload.Timestamp == "" || len(payload.Data) == 0 {
			t.Errorf("delivery %d is not a {type, timestamp, data} payload (%v):\n%s", i, err, d.body)
		}
		types[payload.Type] = true
	}
	for _, want := range []string{"submission.create", "certificate.issued"} {
		if !types[want] {
			t.Errorf("no %s delivery among the types %v", want, types)
		}
	}

	// The check can fail: a changed body, or another subscription's
	// secret, is refused by the same library.
	d := got[0]
	hook, _ := standardwebhooks.NewWebhook(w.webhookSecret)
	if err := hook.VerifyIgnoringTimestamp(append(bytes.Clone(d.body), ' '), d.header); err == nil {
		t.Error("standardwebhooks verified a changed body")
	}
	other, _ := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err := other.VerifyIgnoringTimestamp(d.body, d.header); err == nil {
		t.Error("standardwebhooks verified a delivery under another secret")
	}
	h := http.Header{}
	h.Set("webhook-id", d.header.Get("webhook-id"))
	h.Set("webhook-timestamp", d.header.Get("webhook-timestamp"))
	if err := hook.VerifyIgnoringTimestamp(d.body, h); err == nil {
		t.Error("standardwebhooks verified a delivery without its signature header")
	}
}
