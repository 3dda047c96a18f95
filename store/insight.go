package store

// InsightStore answers the aggregate questions dashboards ask (counts per
// week, queue ages, hotspots) without loading every record.
type InsightStore interface {
}
