//go:build wasip1

// Command bench is the benchmark plugin. The same logic runs under the
// Extism comparison in bench/, so the two measure the same work:
//
//   - noop: reads nothing, writes nothing, returns 0.
//   - transform: input {"items":[{"name":string,"tags":[string...],"qty":int}...]};
//     output {"count":N,"totalQty":SUM(qty),"names":[UPPER(name)...],"tags":DISTINCT-TAG-COUNT},
//     all via encoding/json.
package main

import (
	"strings"

	"gatehouse.dev/gatehouse/pdk"
)

//go:wasmexport noop
func noop() int32 { return 0 }

type item struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	Qty  int      `json:"qty"`
}

type input struct {
	Items []item `json:"items"`
}

type output struct {
	Count    int      `json:"count"`
	TotalQty int      `json:"totalQty"`
	Names    []string `json:"names"`
	Tags     int      `json:"tags"`
}

//go:wasmexport transform
func transform() int32 {
	return pdk.Handle(func(in input) (output, error) {
		out := output{Count: len(in.Items), Names: make([]string, 0, len(in.Items))}
		tags := map[string]bool{}
		for _, it := range in.Items {
			out.TotalQty += it.Qty
			out.Names = append(out.Names, strings.ToUpper(it.Name))
			for _, t := range it.Tags {
				tags[t] = true
			}
		}
		out.Tags = len(tags)
		return out, nil
	})
}

func main() {}
