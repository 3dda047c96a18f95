package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// trustRoot is the part of /.well-known/gatehouse/trust-root.json the
// outside clients read.
type trustRoot struct {
	MarketplaceKeys struct {
		Keys []struct {
			ID        string `json:"id"`
			Algorithm string `json:"algorithm"`
			PublicKey string `json:"publicKey"`
		} `json:"keys"`
	} `json:"marketplaceKeys"`
	LogOrigin   string `json:"logOrigin"`
	LogKey      string `json:"logKey"`
	KeyIDScheme string `json:"keyIdScheme"`
}

func (w *world) trustRoot(t *testing.T) trustRoot {
	t.Helper()
	data, err := gatehouse{env: map[string]string{"GATEHOUSE_SERVER": w.base}}.get("/.well-known/gatehouse/trust-root.json")
	if err != nil {
		t.Fatal(err)
	}
	var tr trustRoot
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatalf("the trust root: %v\n%s", err, data)
	}
	return tr
}

// bundle is the part of a version's bundle the outside clients read.
type bundle struct {
	Certificate json.RawMessage `json:"certificate"`
	Log         struct {
		Index          uint64   `json:"index"`
		Entry          []byte   `json:"entry"`
		InclusionProof [][]byte `json:"inclusionProof"`
		Checkpoint     string   `json:"checkpoint"`
	} `json:"log"`
}

func (w *world) bundle(t *testing.T) bundle {
	t.Helper()
	data, err := gatehouse{env: map[string]string{"GATEHOUSE_SERVER": w.base}}.get("/api/v1/plugins/" + w.version + "/bundle")
	if err != nil {
		t.Fatal(err)
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("the bundle: %v\n%s", err, data)
	}
	return b
}

// TestTransparencyDevClientVerifiesLog reads the served log with
// transparency-dev's own client (tessera's client package, over HTTP, and
// its merkle proof verifier): the checkpoint's signature and origin
// against the trust root's log key, every entry bundle against the hash
// tiles, an inclusion proof for every entry built from the tiles, the
// consistency of the log from the checkpoint a monitor saw before the
// submission to the latest, and the inclusion proof a host gets in a
// version's bundle.
func TestTransparencyDevClientVerifiesLog(t *testing.T) {
	w := getWorld(t)
	ctx := context.Background()
	tr := w.trustRoot(t)
	verifier, err := note.NewVerifier(tr.LogKey)
	if err != nil {
		t.Fatalf("the trust root's log key %q is not a signed-note verifier key: %v", tr.LogKey, err)
	}
	root, _ := url.Parse(w.base + "/log/")
	fetcher, err := client.NewHTTPFetcher(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := client.FetchCheckpoint(ctx, fetcher.ReadCheckpoint, verifier, tr.LogOrigin)
	if err != nil {
		t.Fatalf("tessera's client refuses the served checkpoint: %v", err)
	}
	if cp.Size < 3 {
		t.Fatalf("the log has %d entries; a key registration and a certificate make at least 3", cp.Size)
	}

	// Every entry, from the entry bundles, hashed as RFC 6962 says, must
	// be the leaf the hash tiles hold, and have an inclusion proof built
	// from the tiles to the checkpoint's root.
	var entries [][]byte
	for i := uint64(0); i*256 < cp.Size; i++ {
		b, err := client.GetEntryBundle(ctx, fetcher.ReadEntryBundle, i, cp.Size)
		if err != nil {
			t.Fatalf("entry bundle %d: %v", i, err)
		}
		entries = append(entries, b.Entries...)
	}
	if uint64(len(entries)) != cp.Size {
		t.Fatalf("the entry bundles hold %d entries; the checkpoint says %d", len(entries), cp.Size)
	}
	leaves, err := client.FetchLeafHashes(ctx, fetcher.ReadTile, 0, cp.Size, cp.Size)
	if err != nil {
		t.Fatalf("leaf hashes from the tiles: %v", err)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, fetcher.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		leaf := rfc6962.DefaultHasher.HashLeaf(e)
		if !bytes.Equal(leaf, leaves[i]) {
			t.Errorf("entry %d hashes to %x; the tile holds %x", i, leaf, leaves[i])
		}
		p, err := pb.InclusionProof(ctx, uint64(i))
		if err != nil {
			t.Fatalf("inclusion proof of entry %d: %v", i, err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), cp.Size, leaf, p, cp.Hash); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}

	// The log grew consistently since the checkpoint seen before the
	// submission: tessera's log state tracker proves it, starting from
	// that checkpoint.
	first, _, _, err := log.ParseCheckpoint(w.firstCheckpoint, tr.LogOrigin, verifier)
	if err != nil {
		t.Fatalf("the first checkpoint: %v", err)
	}
	if first.Size >= cp.Size {
		t.Fatalf("the log did not grow (%d then %d entries)", first.Size, cp.Size)
	}
	tracker, err := client.NewLogStateTracker(ctx, fetcher.ReadTile, w.firstCheckpoint, verifier, tr.LogOrigin, client.UnilateralConsensus(fetcher.ReadCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if _, cons, _, err := tracker.Update(ctx); err != nil {
		t.Fatalf("consistency from %d to %d entries: %v", first.Size, cp.Size, err)
	} else if len(cons) == 0 && first.Size > 0 {
		t.Fatalf("no consistency proof from %d to %d entries", first.Size, cp.Size)
	}
	// ... and a proof between the wrong roots fails.
	cons, err := pb.ConsistencyProof(ctx, first.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, first.Size, cp.Size, cons, cp.Hash, first.Hash); err == nil {
		t.Error("a consistency proof verified with its roots swapped")
	}

	// A host's bundle: its entry is the logged one at its index, and its
	// inclusion proof verifies against its checkpoint.
	b := w.bundle(t)
	bcp, _, _, err := log.ParseCheckpoint([]byte(b.Log.Checkpoint), tr.LogOrigin, verifier)
	if err != nil {
		t.Fatalf("the bundle's checkpoint: %v", err)
	}
	if b.Log.Index >= uint64(len(entries)) || !bytes.Equal(entries[b.Log.Index], b.Log.Entry) {
		t.Fatalf("the bundle's entry is not the log's entry %d", b.Log.Index)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, b.Log.Index, bcp.Size, rfc6962.DefaultHasher.HashLeaf(b.Log.Entry), b.Log.InclusionProof, bcp.Hash); err != nil {
		t.Errorf("the bundle's inclusion proof: %v", err)
	}

	// A checkpoint for another origin is refused by the same client.
	if _, _, _, err := client.FetchCheckpoint(ctx, fetcher.ReadCheckpoint, verifier, tr.LogOrigin+"-other"); err == nil {
		t.Error("tessera's client accepted the checkpoint for another origin")
	}
}
