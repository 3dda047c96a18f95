// Package domain holds Gatehouse's nouns and the rules that need nothing
// but the nouns themselves: roles and who may do what, tokens, namespaces,
// plugins and their versions, verdicts and reviews, certificates and
// revocations, incidents, webhooks, hunting rules, and the read models of
// the dashboards. A version's lifecycle is its own small package,
// internal/lifecycle, and is part of this layer.
//
// The package does no IO and imports nothing of Gatehouse but
// internal/lifecycle: storage drivers (internal/store), the application
// layer and the transports (HTTP API, web pages, CLI) import it, never the
// other way round. Storage interfaces are defined by the packages that use
// them, in terms of these types.
package domain
