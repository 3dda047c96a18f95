// Package transform is the plugin logic both benchmark guests run, so the
// comparison measures the hosts and their calling conventions, not two
// implementations. It is the logic of the sandbox's own benchmark plugin
// (sandbox/testdata/bench), so figures from both line up:
//
//	input  {"items":[{"name":string,"tags":[string...],"qty":int}...]}
//	output {"count":N,"totalQty":SUM(qty),"names":[UPPER(name)...],"tags":DISTINCT-TAG-COUNT}
package transform

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Item is one input item.
type Item struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	Qty  int      `json:"qty"`
}

// Input is the transform's input.
type Input struct {
	Items []Item `json:"items"`
}

// Output is the transform's output.
type Output struct {
	Count    int      `json:"count"`
	TotalQty int      `json:"totalQty"`
	Names    []string `json:"names"`
	Tags     int      `json:"tags"`
}

// Apply computes the output for in.
func Apply(in Input) Output {
	out := Output{Count: len(in.Items), Names: make([]string, 0, len(in.Items))}
	tags := map[string]bool{}
	for _, it := range in.Items {
		out.TotalQty += it.Qty
		out.Names = append(out.Names, strings.ToUpper(it.Name))
		for _, t := range it.Tags {
			tags[t] = true
		}
	}
	out.Tags = len(tags)
	return out
}

// ApplyJSON decodes in, applies the transform and encodes the result.
func ApplyJSON(in []byte) ([]byte, error) {
	var v Input
	if err := json.Unmarshal(in, &v); err != nil {
		return nil, fmt.Errorf("decoding input: %w", err)
	}
	return json.Marshal(Apply(v))
}

var sampleTags = []string{"red", "green", "blue", "small", "large", "new"}

// Sample returns the benchmark input: n items with two tags each, about
// 1 KB for n = 18.
func Sample(n int) []byte {
	in := Input{Items: make([]Item, n)}
	for i := range in.Items {
		in.Items[i] = Item{
			Name: fmt.Sprintf("item-%02d", i),
			Tags: []string{sampleTags[i%len(sampleTags)], sampleTags[(i+2)%len(sampleTags)]},
			Qty:  i % 7,
		}
	}
	b, err := json.Marshal(in)
	if err != nil {
		panic(err) // cannot happen: plain structs
	}
	return b
}
