package store

// NotifyStore keeps webhook subscriptions and their deliveries, incidents
// with their timelines, and hunting rules.
type NotifyStore interface {
}
