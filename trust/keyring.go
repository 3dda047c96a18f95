package trust

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Key is a public key in a keyring, with the window in which it may sign.
// A zero NotBefore or NotAfter leaves that side open.
type Key struct {
	PublicKey
	NotBefore time.Time
	NotAfter  time.Time
}

// ActiveAt reports whether the key may have signed something at t.
func (k Key) ActiveAt(t time.Time) bool {
	if !k.NotBefore.IsZero() && t.Before(k.NotBefore) {
		return false
	}
	if !k.NotAfter.IsZero() && t.After(k.NotAfter) {
		return false
	}
	return true
}

// Keyring is a set of trusted public keys by id. Its zero value is empty and
// ready to use; it is not safe for concurrent modification.
type Keyring struct {
	keys map[string]Key
}

// NewKeyring returns a keyring holding keys.
func NewKeyring(keys ...Key) (*Keyring, error) {
	r := &Keyring{}
	for _, k := range keys {
		if err := r.Add(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add puts a key in the keyring. Adding the same key again replaces its
// window; a key whose id does not match its public key is refused.
func (r *Keyring) Add(k Key) error {
	id, err := KeyID(k.Key)
	if err != nil {
		return err
	}
	if k.ID == "" {
		k.ID = id
	}
	if k.ID != id {
		return fmt.Errorf("trust: key id %s does not match its public key (whose id is %s)", k.ID, id)
	}
	if k.Algorithm == "" {
		k.Algorithm, _ = algorithmOf(k.Key)
	}
	if !k.NotBefore.IsZero() && !k.NotAfter.IsZero() && k.NotAfter.Before(k.NotBefore) {
		return fmt.Errorf("trust: key %s: its window ends (%s) before it starts (%s)", k.ID, k.NotAfter.Format(time.RFC3339), k.NotBefore.Format(time.RFC3339))
	}
	if r.keys == nil {
		r.keys = make(map[string]Key)
	}
	r.keys[k.ID] = k
	return nil
}

// Retire closes a key's window at t: signatures dated up to t keep
// verifying, later ones are refused.
func (r *Keyring) Retire(id string, t time.Time) error {
	k, ok := r.keys[id]
	if !ok {
		return fmt.Errorf("trust: no key %s in the keyring", id)
	}
	k.NotAfter = t
	r.keys[id] = k
	return nil
}

// Lookup returns the key with the given id.
func (r *Keyring) Lookup(id string) (Key, bool) {
	if r == nil {
		return Key{}, false
	}
	k, ok := r.keys[id]
	return k, ok
}

// Keys returns every key, sorted by id.
func (r *Keyring) Keys() []Key {
	if r == nil {
		return nil
	}
	ids := slices.Sorted(maps.Keys(r.keys))
	out := make([]Key, len(ids))
	for i, id := range ids {
		out[i] = r.keys[id]
	}
	return out
}

// Len returns the number of keys.
func (r *Keyring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.keys)
}
