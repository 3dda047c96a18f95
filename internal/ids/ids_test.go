package ids

import (
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	form := regexp.MustCompile(`^sub_[a-z2-7]{16}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := New("sub")
		if !form.MatchString(id) {
			t.Fatalf("%q is not sub_ and 16 base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("%q twice in 1000 ids", id)
		}
		seen[id] = true
	}
}
