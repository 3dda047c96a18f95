# Host health by quorum. The engine evaluates data.gatehouse.health_quorum
# with the votes recorded for one certified version (see the policy
# package's QuorumInput): one vote per host that reported the version
# failing (kind "host") and per steward who confirmed those reports (kind
# "steward"), each with how long ago it was last cast. The answer is read as
# policy.QuorumDecision.
package gatehouse

import data.gatehouse.config

window_seconds := config.host_quorum.window_hours * 3600

# A host counts once, however many reports it sent: the votes are keyed by
# voter, and a set of voters collapses any repeat.
quorum_hosts contains v.voter if {
	some v in input.votes
	v.kind == "host"
	v.age_seconds <= window_seconds
}

quorum_stewards contains v.voter if {
	some v in input.votes
	v.kind == "steward"
	v.age_seconds <= window_seconds
}

default quorum_reached := false

quorum_reached if count(quorum_hosts) >= config.host_quorum.hosts

# A steward confirms what hosts reported; a confirmation with no host
# report in the window confirms nothing.
quorum_reached if {
	count(quorum_hosts) >= 1
	count(quorum_stewards) >= config.host_quorum.steward_confirmations
}

quorum_reason := sprintf("%d distinct host(s) reported the version failing within %d hours; the quorum is %d", [count(quorum_hosts), config.host_quorum.window_hours, config.host_quorum.hosts]) if {
	count(quorum_hosts) >= config.host_quorum.hosts
} else := sprintf("%d steward(s) confirmed the failing reports of %d host(s)", [count(quorum_stewards), count(quorum_hosts)]) if {
	quorum_reached
} else := sprintf("%d of %d host(s) reported the version failing within %d hours, and %d of %d steward confirmation(s): below the quorum, so only the reporting hosts quarantine it", [count(quorum_hosts), config.host_quorum.hosts, config.host_quorum.window_hours, count(quorum_stewards), config.host_quorum.steward_confirmations])

health_quorum := {
	"suspend": quorum_reached,
	"hosts": sort(quorum_hosts),
	"stewards": sort(quorum_stewards),
	"required_hosts": config.host_quorum.hosts,
	"required_stewards": config.host_quorum.steward_confirmations,
	"window_hours": config.host_quorum.window_hours,
	"reason": quorum_reason,
}
