package store

// MonitorStore keeps what keeps certification honest after approval:
// revalidation schedules, the package-to-version component index, webhook
// subscriptions and deliveries, incidents and hunting rules, host health
// reports.
type MonitorStore interface {
}
