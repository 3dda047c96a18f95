// Command counter is the acme/counter Gatehouse plugin: named counters kept
// in the plugin's own key-value store (kv:read, kv:write). Another plugin's
// store is out of reach: the host scopes every key to the plugin.
package main

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"gatehouse.dev/gatehouse/pdk"
)

// keyPrefix namespaces the counters inside the plugin's store, leaving room
// for other kinds of keys later.
const keyPrefix = "counter/"

// maxStep bounds one increment, so a typo cannot jump a counter to its
// limit.
const maxStep = 1_000_000

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// IncrementInput is the JSON input of the increment export.
type IncrementInput struct {
	Name string `json:"name"`
	// By is the step, 1 when absent.
	By *int64 `json:"by,omitempty"`
}

// NameInput is the JSON input of the get and reset exports.
type NameInput struct {
	Name string `json:"name"`
}

// Counter is the JSON output of every export: the counter's value after
// the call.
type Counter struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

//go:wasmexport increment
func increment() int32 {
	return pdk.Handle(func(in IncrementInput) (Counter, error) {
		by := int64(1)
		if in.By != nil {
			by = *in.By
		}
		if by < 1 || by > maxStep {
			return Counter{}, fmt.Errorf("by is %d; a counter goes up by 1 to %d at a time", by, maxStep)
		}
		v, err := load(in.Name)
		if err != nil {
			return Counter{}, err
		}
		if v > math.MaxInt64-by {
			return Counter{}, fmt.Errorf("counter %q is at %d and cannot grow by %d", in.Name, v, by)
		}
		v += by
		if err := pdk.KVSet(keyPrefix+in.Name, strconv.AppendInt(nil, v, 10)); err != nil {
			return Counter{}, fmt.Errorf("saving counter %q: %w", in.Name, err)
		}
		return Counter{Name: in.Name, Value: v}, nil
	})
}

//go:wasmexport get
func get() int32 {
	return pdk.Handle(func(in NameInput) (Counter, error) {
		v, err := load(in.Name)
		return Counter{Name: in.Name, Value: v}, err
	})
}

//go:wasmexport reset
func reset() int32 {
	return pdk.Handle(func(in NameInput) (Counter, error) {
		if err := checkName(in.Name); err != nil {
			return Counter{}, err
		}
		if err := pdk.KVDelete(keyPrefix + in.Name); err != nil && !errors.Is(err, pdk.ErrNotFound) {
			return Counter{}, fmt.Errorf("resetting counter %q: %w", in.Name, err)
		}
		return Counter{Name: in.Name, Value: 0}, nil
	})
}

// load returns the counter's value; a counter never set is 0.
func load(name string) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	b, err := pdk.KVGet(keyPrefix + name)
	if errors.Is(err, pdk.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading counter %q: %w", name, err)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("counter %q holds %q, which is not a count; reset it", name, b)
	}
	return v, nil
}

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("counter name %q must be 1 to 64 lower-case letters, digits, '_', '.' or '-'", name)
	}
	return nil
}

// main is never called: the plugin is a WASI reactor whose exports the host
// calls directly.
func main() {}
