# Releases (issue 18): whether a version may move into an environment
# (promotion) and whether a rollout in progress halts (rollout_health).
# The engine evaluates them with policy.PromotionInput and
# policy.RolloutInput; each refusal names its rule. The settings are in
# config.rego.
package gatehouse

import data.gatehouse.config

promotion := {
	"allow": count(promotion_deny) == 0,
	"deny": [d | some d in promotion_deny],
}

soak := object.get(config.promotion_soak, input.to, config.promotion_soak["default"])

refuse(rule, message) := {"rule": rule, "message": message}

promotion_deny contains refuse(
	"first-environment",
	sprintf("%s is the first environment: a version enters it when it is certified, not by promotion", [input.to]),
) if input.to_index == 0

promotion_deny contains refuse(
	"not-in-previous-environment",
	sprintf("%s@%s is not released in %s; promote it there first", [input.plugin.id, input.plugin.version, input.from]),
) if {
	input.to_index > 0
	not input.previous.present
}

promotion_deny contains refuse(
	"previous-rollout-incomplete",
	sprintf("%s@%s runs on %d%% of %s (%s); finish that rollout first", [input.plugin.id, input.plugin.version, input.previous.rollout, input.from, input.previous.status]),
) if {
	input.previous.present
	not previous_complete
}

previous_complete if {
	input.previous.rollout == 100
	input.previous.status == "active"
}

promotion_deny contains refuse(
	"soak-time",
	sprintf("%s@%s has run in %s for %.1f hours; %s needs %v", [input.plugin.id, input.plugin.version, input.from, input.previous.since_hours, input.to, soak.hours]),
) if {
	input.previous.present
	input.previous.since_hours < soak.hours
}

promotion_deny contains refuse(
	"soak-hosts",
	sprintf("%d host(s) of %s reported on %s@%s; %s needs %d", [count(input.health.hosts), input.from, input.plugin.id, input.plugin.version, input.to, soak.min_hosts]),
) if {
	input.previous.present
	count(input.health.hosts) < soak.min_hosts
}

promotion_deny contains refuse(
	"soak-calls",
	sprintf("hosts of %s reported %d calls of %s@%s; %s needs %d", [input.from, input.health.calls, input.plugin.id, input.plugin.version, input.to, soak.min_calls]),
) if {
	input.previous.present
	input.health.calls < soak.min_calls
}

promotion_deny contains refuse(
	"soak-error-rate",
	sprintf("%s@%s failed %.2f%% of its calls in %s; %s accepts at most %.2f%%", [input.plugin.id, input.plugin.version, input.health.error_rate * 100, input.from, input.to, soak.max_error_rate * 100]),
) if input.health.error_rate > soak.max_error_rate

promotion_deny contains refuse(
	"soak-breaker-trips",
	sprintf("%s@%s tripped its circuit breaker %d time(s) in %s; %s accepts %d", [input.plugin.id, input.plugin.version, input.health.breaker_trips, input.from, input.to, soak.max_breaker_trips]),
) if input.health.breaker_trips > soak.max_breaker_trips

promotion_deny contains refuse(
	"steward-approval",
	sprintf("%s@%s is %s risk: %s needs a steward's approval (`gatehouse release approve %s@%s --env %s`)", [input.plugin.id, input.plugin.version, input.plugin.risk_tier, input.to, input.plugin.id, input.plugin.version, input.to]),
) if {
	input.last
	input.plugin.risk_tier in config.production_approval_tiers
	count(input.approvals) == 0
}

promotion_deny contains refuse(
	"open-incident",
	sprintf("%s has %d open incident(s); close them before promoting", [input.plugin.id, input.open_incidents]),
) if input.open_incidents > 0

# ---------------------------------------------------------------------------
# Rollout health: halt when enough distinct hosts running the new version
# report it failing.

failing_hosts contains h.host if {
	some h in input.health.hosts
	h.calls >= config.rollout_halt.min_calls
	h.errors / h.calls > config.rollout_halt.max_error_rate
}

failing_hosts contains h.host if {
	some h in input.health.hosts
	h.breaker_trips > 0
}

rollout_halt_reasons contains refuse(
	"rollout-failing-hosts",
	sprintf("%d hosts running %s@%s in %s report it failing (%s); the rollout halts at %d", [count(failing_hosts), input.plugin, input.version, input.environment, concat(", ", sort(failing_hosts)), config.rollout_halt.failing_hosts]),
) if count(failing_hosts) >= config.rollout_halt.failing_hosts

rollout_health := {
	"halt": count(rollout_halt_reasons) > 0,
	"reasons": [r | some r in rollout_halt_reasons],
}
