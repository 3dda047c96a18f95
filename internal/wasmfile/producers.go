package wasmfile

// Producers is the content of a "producers" custom section, the tool
// convention by which compilers record what made a module: field name
// ("language", "processed-by", "sdk") to tool name to version. Go writes
// language "Go" and processed-by "Go cmd/compile" with the Go version.
type Producers map[string]map[string]string

// maxProducers caps the entries of a producers section; the convention
// has three fields with a handful of tools each.
const maxProducers = 1000

// Producers parses the module's "producers" custom section. It returns
// nil, nil when the module has none.
func (m *Module) Producers() (Producers, error) {
	for _, c := range m.Custom {
		if c.Name == "producers" {
			return parseProducers(c)
		}
	}
	return nil, nil
}

func parseProducers(c CustomSection) (Producers, error) {
	r := &reader{b: c.Data, section: "producers custom section"}
	// The reader counts from the payload's start; errors give file offsets.
	wrap := func(err error) error {
		if e, ok := err.(*Error); ok {
			e.Offset += c.Offset
		}
		return err
	}
	n, err := r.count("fields", maxProducers, 2)
	if err != nil {
		return nil, wrap(err)
	}
	p := make(Producers, n)
	total := 0
	for range n {
		field, err := r.name()
		if err != nil {
			return nil, wrap(err)
		}
		k, err := r.count("tools", maxProducers, 2)
		if err != nil {
			return nil, wrap(err)
		}
		if total += k; total > maxProducers {
			return nil, wrap(r.errf(ErrLimit, "more than %d producers entries", maxProducers))
		}
		tools := p[field]
		if tools == nil {
			tools = make(map[string]string, k)
			p[field] = tools
		}
		for range k {
			name, err := r.name()
			if err != nil {
				return nil, wrap(err)
			}
			version, err := r.name()
			if err != nil {
				return nil, wrap(err)
			}
			tools[name] = version
		}
	}
	if r.left() != 0 {
		return nil, wrap(r.errf(nil, "%d unread bytes at the end of the section", r.left()))
	}
	return p, nil
}
