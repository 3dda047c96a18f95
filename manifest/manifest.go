// Package manifest defines a plugin's manifest: its types, the JSON Schema it
// is checked against, the typed permission grammar, and the legacy (seed 003)
// form that older plugins still ship.
//
// The package is pure domain code: it imports no database, HTTP or CLI code.
package manifest

// SchemaVersion is the manifestVersion a v1 manifest declares.
const SchemaVersion = 1

// FileName is the manifest's name inside a package and in a plugin folder.
const FileName = "manifest.json"

// Manifest is a v1 plugin manifest.
type Manifest struct {
	ManifestVersion int    `json:"manifestVersion"`
	ID              string `json:"id"` // namespace/name
	Version         string `json:"version"`
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	Homepage        string `json:"homepage,omitempty"`

	Owners  []Person `json:"owners"`
	License string   `json:"license"` // SPDX expression

	Runtime      Runtime       `json:"runtime"`
	Permissions  []string      `json:"permissions"`
	Limits       *Limits       `json:"limits,omitempty"`
	Data         *DataHandling `json:"data,omitempty"`
	Dependencies []Dependency  `json:"dependencies,omitempty"`
	Support      *Support      `json:"support,omitempty"`
	Deprecation  *Deprecation  `json:"deprecation,omitempty"`

	// Legacy is set when the manifest was converted from the seed form; it
	// keeps what that form said that v1 has no place for.
	Legacy *LegacyInfo `json:"-"`
}

// Person is an owner or contact.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Runtime says how the host loads and calls the plugin.
type Runtime struct {
	// Module is the path of the WebAssembly module inside the package.
	Module string `json:"module"`
	// Exports are the functions the host may call.
	Exports []string `json:"exports"`
	// HostAPI is the SemVer range of host API versions the plugin works with
	// (its compatibility).
	HostAPI string `json:"hostApi"`
}

// Limits are the resources the plugin asks for. The host may grant less; it
// never grants more than its own ceiling.
type Limits struct {
	MemoryMiB     int `json:"memoryMiB,omitempty"`
	TimeoutMillis int `json:"timeoutMillis,omitempty"`
	OutputBytes   int `json:"outputBytes,omitempty"`
	HostCalls     int `json:"hostCalls,omitempty"`
}

// DataHandling declares what user data the plugin touches and what becomes
// of it.
type DataHandling struct {
	Categories     []string `json:"categories"`
	Purpose        string   `json:"purpose"`
	Retention      string   `json:"retention"` // e.g. "none", "P30D" (ISO 8601 duration)
	LeavesPlatform bool     `json:"leavesPlatform"`
	// Flows declare, one by one, which category goes where, why, and for
	// how long. Without them every category is taken to go to every
	// destination the plugin may reach (the platform, and its net:
	// origins when LeavesPlatform), for Purpose, kept for Retention.
	Flows []DataFlow `json:"flows,omitempty"`
}

// Destination of a flow that stays with the host platform.
const DestinationPlatform = "platform"

// DataFlow is one declared flow of user data.
type DataFlow struct {
	Category string `json:"category"`
	// Destination is "platform" or a network origin the plugin sends the
	// data to (one of its net: permissions).
	Destination string `json:"destination"`
	// Purpose and Retention default to the data section's.
	Purpose   string `json:"purpose,omitempty"`
	Retention string `json:"retention,omitempty"`
}

// Dependency is another plugin this one needs, by SemVer range.
type Dependency struct {
	ID    string `json:"id"`
	Range string `json:"range"`
}

// Support says where users get help.
type Support struct {
	URL   string `json:"url,omitempty"`
	Email string `json:"email,omitempty"`
}

// Deprecation marks a plugin as going away.
type Deprecation struct {
	Deprecated  bool   `json:"deprecated"`
	Message     string `json:"message,omitempty"`
	Replacement string `json:"replacement,omitempty"` // namespace/name
}

// LegacyInfo records that a manifest came from the seed form.
type LegacyInfo struct {
	// OriginalID is the seed form's id, which has no namespace.
	OriginalID string
	// Signed is true when the seed form's HMAC signature was checked and
	// matched. It covers the manifest alone, never the package's bytes.
	Signed bool
	// Permissions are the seed form's free-form permission names.
	Permissions []string
	// Notes say, one sentence each, what the conversion assumed or changed
	// (a normalised version, a mapped permission, a default it filled in),
	// so a reviewer sees what the v1 manifest says that the author did not.
	Notes []string
}

// Namespace returns the part of the id before the slash.
func (m *Manifest) Namespace() string {
	ns, _, _ := splitID(m.ID)
	return ns
}

// PluginName returns the part of the id after the slash.
func (m *Manifest) PluginName() string {
	_, n, _ := splitID(m.ID)
	return n
}

func splitID(id string) (ns, name string, ok bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i], id[i+1:], true
		}
	}
	return "", id, false
}
