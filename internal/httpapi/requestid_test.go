package httpapi

import "testing"

func TestRequestIDsUnique(t *testing.T) {
	a, b := NewIDGenerator(), NewIDGenerator()
	seen := make(map[string]bool)
	for range 100000 {
		for _, id := range []string{a.Next(), b.Next()} {
			if len(id) != 16 || seen[id] {
				t.Fatalf("id %q: want 16 hex characters, never repeated", id)
			}
			for _, c := range id {
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
					t.Fatalf("id %q is not hex", id)
				}
			}
			seen[id] = true
		}
	}
}
