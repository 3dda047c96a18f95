package intake

import (
	"context"
	"testing"
	"time"
)

// TestConcurrentVetsAreBounded: no more than MaxConcurrentVets runs hold a
// package at once; the next waits, and gives up when its context ends.
func TestConcurrentVetsAreBounded(t *testing.T) {
	s := &Service{MaxConcurrentVets: 2}
	ctx := context.Background()
	r1, err := s.acquireVet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.acquireVet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.acquireVet(short); err == nil {
		t.Fatal("a third vetting run started beside two")
	}
	r1()
	r3, err := s.acquireVet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2()
	r3()
}
