# Unit tests of the release rules (release.rego): one test per promotion
# rule, each changing one fact of a promotion that passes.
package gatehouse_release_test

import data.gatehouse

promo := {
	"plugin": {"id": "acme/hello", "version": "1.1.0", "risk_tier": "low"},
	"from": "staging", "to": "prod", "to_index": 2, "last": true, "rollout": 100,
	"previous": {"present": true, "since_hours": 48, "rollout": 100, "status": "active"},
	"health": {"reports": 6, "calls": 5000, "errors": 5, "error_rate": 0.001, "breaker_trips": 0, "hosts": [
		{"host": "h1", "calls": 2500, "errors": 2, "breaker_trips": 0},
		{"host": "h2", "calls": 2500, "errors": 3, "breaker_trips": 0},
	]},
	"approvals": [], "open_incidents": 0,
}

with_promo(patch) := object.union(promo, patch)

denied(d) := {r.rule | some r in d.deny}

test_baseline_promotion_allowed if {
	d := gatehouse.promotion with input as promo
	d.allow
	count(d.deny) == 0
}

test_first_environment_is_not_promoted_into if {
	d := gatehouse.promotion with input as with_promo({"to": "dev", "to_index": 0, "from": "", "previous": {"present": false}})
	not d.allow
	"first-environment" in denied(d)
}

test_not_in_previous_environment if {
	d := gatehouse.promotion with input as with_promo({"previous": {"present": false}})
	denied(d) == {"not-in-previous-environment"}
}

test_previous_rollout_incomplete if {
	d := gatehouse.promotion with input as with_promo({"previous": {"present": true, "since_hours": 48, "rollout": 50, "status": "active"}})
	denied(d) == {"previous-rollout-incomplete"}
}

test_previous_rollout_halted if {
	d := gatehouse.promotion with input as with_promo({"previous": {"present": true, "since_hours": 48, "rollout": 100, "status": "halted"}})
	denied(d) == {"previous-rollout-incomplete"}
}

test_soak_time if {
	d := gatehouse.promotion with input as with_promo({"previous": {"present": true, "since_hours": 23.5, "rollout": 100, "status": "active"}})
	denied(d) == {"soak-time"}
}

test_soak_time_of_staging_is_shorter if {
	d := gatehouse.promotion with input as with_promo({"to": "staging", "from": "dev", "to_index": 1, "last": false, "previous": {"present": true, "since_hours": 1.5, "rollout": 100, "status": "active"}})
	d.allow
}

test_soak_hosts if {
	d := gatehouse.promotion with input as with_promo({"health": {"reports": 3, "calls": 5000, "errors": 0, "error_rate": 0, "breaker_trips": 0, "hosts": [{"host": "h1", "calls": 5000, "errors": 0, "breaker_trips": 0}]}})
	denied(d) == {"soak-hosts"}
}

test_soak_calls if {
	d := gatehouse.promotion with input as with_promo({"health": {"reports": 2, "calls": 999, "errors": 0, "error_rate": 0, "breaker_trips": 0, "hosts": [{"host": "h1", "calls": 500, "errors": 0, "breaker_trips": 0}, {"host": "h2", "calls": 499, "errors": 0, "breaker_trips": 0}]}})
	denied(d) == {"soak-calls"}
}

test_soak_error_rate if {
	d := gatehouse.promotion with input as with_promo({"health": object.union(promo.health, {"errors": 100, "error_rate": 0.02})})
	denied(d) == {"soak-error-rate"}
}

test_soak_breaker_trips if {
	d := gatehouse.promotion with input as with_promo({"health": object.union(promo.health, {"breaker_trips": 1})})
	denied(d) == {"soak-breaker-trips"}
}

test_steward_approval_for_high_risk_in_production if {
	high := with_promo({"plugin": {"id": "acme/hello", "version": "1.1.0", "risk_tier": "high"}})
	d := gatehouse.promotion with input as high
	denied(d) == {"steward-approval"}
	approved := gatehouse.promotion with input as object.union(high, {"approvals": ["steve"]})
	approved.allow
}

test_no_steward_approval_before_production if {
	d := gatehouse.promotion with input as with_promo({"plugin": {"id": "acme/hello", "version": "1.1.0", "risk_tier": "high"}, "to": "staging", "from": "dev", "to_index": 1, "last": false})
	d.allow
}

test_open_incident if {
	d := gatehouse.promotion with input as with_promo({"open_incidents": 1})
	denied(d) == {"open-incident"}
}

rollout := {"plugin": "acme/hello", "version": "1.1.0", "environment": "prod", "rollout": 50, "health": {"reports": 3, "calls": 300, "errors": 0, "error_rate": 0, "breaker_trips": 0, "hosts": [
	{"host": "h1", "calls": 100, "errors": 0, "breaker_trips": 0},
	{"host": "h2", "calls": 100, "errors": 0, "breaker_trips": 0},
	{"host": "h3", "calls": 100, "errors": 0, "breaker_trips": 0},
]}}

failing(n) := [{"host": h, "calls": 100, "errors": 50, "breaker_trips": 0} | some h in array.slice(["h1", "h2", "h3", "h4"], 0, n)]

test_healthy_rollout_goes_on if {
	h := gatehouse.rollout_health with input as rollout
	not h.halt
}

test_one_failing_host_does_not_halt if {
	h := gatehouse.rollout_health with input as object.union(rollout, {"health": object.union(rollout.health, {"hosts": failing(1)})})
	not h.halt
}

test_three_failing_hosts_halt if {
	h := gatehouse.rollout_health with input as object.union(rollout, {"health": object.union(rollout.health, {"hosts": failing(3)})})
	h.halt
	{r.rule | some r in h.reasons} == {"rollout-failing-hosts"}
}

test_breaker_trips_count_as_failing if {
	hosts := [{"host": h, "calls": 1, "errors": 0, "breaker_trips": 1} | some h in ["h1", "h2", "h3"]]
	h := gatehouse.rollout_health with input as object.union(rollout, {"health": object.union(rollout.health, {"hosts": hosts})})
	h.halt
}

test_few_calls_do_not_count if {
	hosts := [{"host": h, "calls": 5, "errors": 5, "breaker_trips": 0} | some h in ["h1", "h2", "h3"]]
	h := gatehouse.rollout_health with input as object.union(rollout, {"health": object.union(rollout.health, {"hosts": hosts})})
	not h.halt
}
