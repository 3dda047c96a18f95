# Unit tests of the default policy: `gatehouse policy test` runs them, and
# applying a policy whose tests fail is refused.
package gatehouse_test

import data.gatehouse

# An update that passes every gate: the baseline each test changes one
# thing of.
base := {
	"plugin": {"id": "acme/hello", "namespace": "acme", "version": "1.0.2", "first_version": false, "previous_version": "1.0.1"},
	"permissions": [{"kind": "kv:read", "scope": ""}, {"kind": "net", "scope": "https://api.example.com"}],
	"data": {"categories": ["contacts"], "leaves_platform": false},
	"flows": [{"id": "contacts>platform", "category": "contacts", "destination": "platform", "purpose": "fill templates", "retention": "P30D", "retention_days": 30, "retention_pointer": "/data/retention"}],
	"license": {"expression": "MIT", "choices": [["MIT"]]},
	"host_api": "^1.0.0",
	"findings": [],
	"checks": [
		{"analyzer": "capabilities", "status": "passed", "required": true, "enforced": true, "blocking": false},
		{"analyzer": "diff", "status": "passed", "required": true, "enforced": true, "blocking": false},
	],
	"diff": {
		"permissions_added": [], "permissions_removed": [], "origins_added": [], "data_categories_added": [], "flows_added": [],
		"host_api_changed": false, "previous_host_api": "^1.0.0", "imports_added": [],
		"size_change_percent": 2.5, "files_changed": 1,
	},
	"publisher": {"in_good_standing": true, "account_age_days": 400, "ownership_changed_days_ago": null, "key_changed_days_ago": null, "prior_rejections": 0},
	"auto_approval_off": {"plugin": false, "namespace": false},
	"host_error_rate": 0.001,
	"weight": {"total": 5, "factors": [{"name": "permissions", "value": 5, "cap": 30, "reason": "kv:read, net"}]},
}

with_input(patch) := object.union(base, patch)

gate(d, name) := g if {
	some g in d.gates
	g.name == name
}

rules(d) := {v.rule | some v in d.deny}

test_baseline_auto_approves if {
	d := gatehouse.decision with input as base
	d.auto_approve_allowed
	d.would_auto_approve
	count(d.deny) == 0
	count(d.blocking_findings) == 0
	every g in d.gates { g.passed }
	count(d.gates) == 11
	d.tier == "low"
}

# --- deny rules --------------------------------------------------------------

test_http_origin_denied_with_https_suggestion if {
	d := gatehouse.decision with input as with_input({"permissions": [{"kind": "net", "scope": "http://api.example.com:8080"}]})
	some v in d.deny
	v.rule == "insecure-origin"
	v.suggestion == "ask for net:https://api.example.com:8080 instead"
	not d.auto_approve_allowed
}

test_internal_origins_denied if {
	every origin in ["https://localhost", "https://127.0.0.1:8443", "https://169.254.169.254", "https://10.1.2.3", "https://[::1]", "https://db.internal", "https://printer.local"] {
		d := gatehouse.decision with input as with_input({"permissions": [{"kind": "net", "scope": origin}]})
		"forbidden-origin" in rules(d)
	}
}

test_public_ip_origin_allowed if {
	d := gatehouse.decision with input as with_input({"permissions": [{"kind": "net", "scope": "https://93.184.216.34"}]})
	count(d.deny) == 0
}

test_reserved_secret_denied if {
	d := gatehouse.decision with input as with_input({"permissions": [{"kind": "secret", "scope": "GATEHOUSE_SIGNING_KEY"}]})
	"reserved-secret" in rules(d)
}

test_forbidden_permission_kind_denied_with_policy_message if {
	kinds := {"kv:write": {"message": "plugins on this platform are read-only", "suggestion": "keep state in the host's records"}}
	d := gatehouse.decision with input as with_input({"permissions": [{"kind": "kv:write", "scope": ""}]})
		with data.gatehouse.config.forbidden_permission_kinds as kinds
	some v in d.deny
	v.rule == "forbidden-permission"
	v.message == "permission kv:write: plugins on this platform are read-only"
	v.suggestion == "keep state in the host's records"
}

test_health_data_denied_with_guidance if {
	d := gatehouse.decision with input as with_input({"data": {"categories": ["contacts", "health"], "leaves_platform": false}})
	some v in d.deny
	v.rule == "forbidden-data-category"
	contains(v.message, "health")
	contains(v.suggestion, "de-identified")
}

test_unlisted_data_category_denied_with_allowed_list if {
	d := gatehouse.decision with input as with_input({"data": {"categories": ["horoscopes"], "leaves_platform": false}})
	some v in d.deny
	v.rule == "forbidden-data-category"
	contains(v.suggestion, "contacts")
}

test_agpl_denied if {
	d := gatehouse.decision with input as with_input({"license": {"expression": "AGPL-3.0-only", "choices": [["AGPL-3.0-only"]]}})
	some v in d.deny
	v.rule == "forbidden-license"
	contains(v.suggestion, "Apache-2.0")
}

test_dual_licence_with_permissive_choice_allowed if {
	d := gatehouse.decision with input as with_input({"license": {"expression": "MIT OR AGPL-3.0-only", "choices": [["MIT"], ["AGPL-3.0-only"]]}})
	count(d.deny) == 0
}

test_conjunction_with_denied_licence_denied if {
	d := gatehouse.decision with input as with_input({"license": {"expression": "MIT AND SSPL-1.0", "choices": [["MIT", "SSPL-1.0"]]}})
	"forbidden-license" in rules(d)
}

test_unreadable_licence_denied if {
	d := gatehouse.decision with input as with_input({"license": {"expression": "MIT OR", "choices": []}})
	"unknown-license" in rules(d)
}

# --- blocking findings -------------------------------------------------------

finding(severity, suppressed, enforced) := {"analyzer": "secrets", "rule_id": "secrets/aws-access-token", "severity": severity, "suppressed": suppressed, "enforced": enforced}

test_high_finding_blocks if {
	d := gatehouse.decision with input as with_input({"findings": [finding("high", false, true)]})
	d.blocking_findings == {"secrets/aws-access-token"}
	not gate(d, "no_blocking_finding").passed
}

test_critical_finding_blocks if {
	d := gatehouse.decision with input as with_input({"findings": [finding("critical", false, true)]})
	count(d.blocking_findings) == 1
}

test_suppressed_or_shadow_or_medium_finding_does_not_block if {
	every f in [finding("high", true, true), finding("high", false, false), finding("medium", false, true)] {
		d := gatehouse.decision with input as with_input({"findings": [f]})
		count(d.blocking_findings) == 0
	}
}

# --- gates, one failing at a time --------------------------------------------

only_gate_failing(patch, name) if {
	d := gatehouse.decision with input as with_input(patch)
	failed := {g.name | some g in d.gates; not g.passed}
	failed == {name}
	not d.auto_approve_allowed
	not d.would_auto_approve
}

test_gate_required_checks_errored if {
	only_gate_failing({"checks": [{"analyzer": "capabilities", "status": "errored", "required": true, "enforced": true, "blocking": true}]}, "required_checks_passed")
}

test_gate_required_checks_none_recorded if {
	only_gate_failing({"checks": []}, "required_checks_passed")
}

test_gate_enforced_failure_of_optional_check if {
	only_gate_failing({"checks": [{"analyzer": "sbom", "status": "failed", "required": false, "enforced": true, "blocking": true}]}, "required_checks_passed")
}

test_gate_skipped_check_without_blocking_passes if {
	d := gatehouse.decision with input as with_input({"checks": [{"analyzer": "diff", "status": "skipped", "required": true, "enforced": true, "blocking": false}]})
	gate(d, "required_checks_passed").passed
}

test_gate_first_version if {
	d := gatehouse.decision with input as with_input({"plugin": {"id": "acme/hello", "namespace": "acme", "version": "1.0.0", "first_version": true, "previous_version": ""}, "diff": null})
	not gate(d, "not_first_version").passed
	not gate(d, "no_new_permission").passed
	not d.auto_approve_allowed
}

test_gate_new_permission if {
	only_gate_failing({"diff": object.union(base.diff, {"permissions_added": ["kv:write"]})}, "no_new_permission")
}

test_gate_new_origin if {
	d := gatehouse.decision with input as with_input({"diff": object.union(base.diff, {"permissions_added": ["net:https://new.example.com"], "origins_added": ["https://new.example.com"]})})
	not gate(d, "no_new_origin").passed
	contains(gate(d, "no_new_origin").reason, "https://new.example.com")
}

test_gate_new_data_category if {
	only_gate_failing({"diff": object.union(base.diff, {"data_categories_added": ["calendar"]})}, "no_new_data_category")
}

test_gate_host_api_change if {
	only_gate_failing({"host_api": "^2.0.0", "diff": object.union(base.diff, {"host_api_changed": true})}, "no_host_api_change")
}

test_gate_publisher_standing if {
	only_gate_failing({"publisher": object.union(base.publisher, {"in_good_standing": false})}, "publisher_in_good_standing")
}

test_gate_recent_ownership_change if {
	only_gate_failing({"publisher": object.union(base.publisher, {"ownership_changed_days_ago": 3})}, "no_recent_ownership_or_key_change")
}

test_gate_recent_key_change if {
	only_gate_failing({"publisher": object.union(base.publisher, {"key_changed_days_ago": 13})}, "no_recent_ownership_or_key_change")
}

test_gate_old_key_change_passes if {
	d := gatehouse.decision with input as with_input({"publisher": object.union(base.publisher, {"key_changed_days_ago": 14})})
	d.auto_approve_allowed
}

test_gate_switched_off_for_plugin if {
	only_gate_failing({"auto_approval_off": {"plugin": true, "namespace": false}}, "auto_approval_not_switched_off")
}

test_gate_switched_off_for_namespace if {
	only_gate_failing({"auto_approval_off": {"plugin": false, "namespace": true}}, "auto_approval_not_switched_off")
}

test_dry_run_mode_records_but_does_not_approve if {
	d := gatehouse.decision with input as base with data.gatehouse.config.auto_approval_mode as "dry_run"
	d.would_auto_approve
	not d.auto_approve_allowed
}

# --- tiers -------------------------------------------------------------------

tier_of(total) := d.tier if {
	d := gatehouse.decision with input as with_input({"weight": {"total": total, "factors": [{"name": "x", "value": total, "cap": 100, "reason": ""}]}})
}

test_tier_boundaries if {
	tier_of(14) == "low"
	tier_of(15) == "medium"
	tier_of(34) == "medium"
	tier_of(35) == "high"
	tier_of(59) == "high"
	tier_of(60) == "critical"
}

test_high_tier_needs_two_approvals_and_short_certificate if {
	d := gatehouse.decision with input as with_input({"weight": {"total": 40, "factors": [{"name": "x", "value": 40, "cap": 100, "reason": ""}]}})
	d.approvals_required == 2
	d.certificate_lifetime_days == 30
	d.review_deadline_hours == 120
	d.revalidation_days == 7
	d.remediation_days == 14
}

test_low_tier_settings if {
	d := gatehouse.decision with input as base
	d.approvals_required == 1
	d.certificate_lifetime_days == 90
	d.review_deadline_hours == 24
	d.revalidation_days == 30
	d.remediation_days == 30
}

test_revalidation_comes_before_expiry_in_every_tier if {
	every total in [0, 15, 35, 60] {
		d := gatehouse.decision with input as with_input({"weight": {"total": total, "factors": [{"name": "x", "value": total, "cap": 100, "reason": ""}]}})
		d.revalidation_days < d.certificate_lifetime_days
		d.remediation_days >= 1
	}
}

test_riskier_tiers_revalidate_more_often if {
	low := gatehouse.decision with input as base
	critical := gatehouse.decision with input as with_input({"weight": {"total": 60, "factors": [{"name": "x", "value": 60, "cap": 100, "reason": ""}]}})
	critical.tier == "critical"
	critical.revalidation_days < low.revalidation_days
	critical.remediation_days < low.remediation_days
}

test_host_health_thresholds if {
	d := gatehouse.decision with input as base
	d.host_health.max_error_rate == 0.05
	d.host_health.max_breaker_trips == 3
	d.host_health.min_calls == 100
}

# ---------------------------------------------------------------------------
# Provenance a tier or namespace requires (config.provenance_required).

required_for_high := {"tiers": {"high", "critical"}, "namespaces": {"payments"}, "reproducible": true, "source_repository_prefixes": {"https://github.com/acme/"}}

verified_provenance := {"present": true, "verified": true, "builder": "https://builder.example/slsa", "build_type": "b", "source_repository": "https://github.com/acme/hello", "reproducible": true}

high_weight := {"total": 60, "factors": []}

test_provenance_required_of_no_one_by_default if {
	d := gatehouse.decision with input as with_input({"weight": high_weight})
	not "provenance-required" in rules(d)
}

test_provenance_required_in_a_tier_without_one if {
	d := gatehouse.decision with input as with_input({"weight": high_weight})
		with data.gatehouse.config.provenance_required as required_for_high
	"provenance-required" in rules(d)
	"reproducible-required" in rules(d)
}

test_provenance_not_required_below_the_tier if {
	d := gatehouse.decision with input as base
		with data.gatehouse.config.provenance_required as required_for_high
	not "provenance-required" in rules(d)
}

test_provenance_required_in_a_namespace if {
	d := gatehouse.decision with input as with_input({"plugin": {"id": "payments/card", "namespace": "payments", "version": "1.0.0", "first_version": true, "previous_version": ""}})
		with data.gatehouse.config.provenance_required as required_for_high
	"provenance-required" in rules(d)
}

test_verified_provenance_satisfies if {
	d := gatehouse.decision with input as with_input({"weight": high_weight, "provenance": verified_provenance})
		with data.gatehouse.config.provenance_required as required_for_high
	count({"provenance-required", "reproducible-required", "source-repository-required"} & rules(d)) == 0
}

test_unverified_provenance_fails if {
	d := gatehouse.decision with input as with_input({"weight": high_weight, "provenance": object.union(verified_provenance, {"verified": false})})
		with data.gatehouse.config.provenance_required as required_for_high
	"provenance-required" in rules(d)
}

test_not_reproducible_fails_when_required if {
	d := gatehouse.decision with input as with_input({"weight": high_weight, "provenance": object.union(verified_provenance, {"reproducible": false})})
		with data.gatehouse.config.provenance_required as required_for_high
	"reproducible-required" in rules(d)
	not "provenance-required" in rules(d)
}

test_another_source_repository_fails if {
	d := gatehouse.decision with input as with_input({"weight": high_weight, "provenance": object.union(verified_provenance, {"source_repository": "https://github.com/mallory/hello"})})
		with data.gatehouse.config.provenance_required as required_for_high
	"source-repository-required" in rules(d)
}

# Host health by quorum (quorum.rego).

host(name, age) := {"voter": name, "kind": "host", "age_seconds": age}

steward(name, age) := {"voter": name, "kind": "steward", "age_seconds": age}

test_quorum_defaults if {
	q := gatehouse.health_quorum with input as {"votes": []}
	q.required_hosts == 3
	q.required_stewards == 1
	q.window_hours == 24
	not q.suspend
}

test_below_quorum_no_suspension if {
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 60), host("h2", 120)]}
	not q.suspend
	q.hosts == ["h1", "h2"]
	contains(q.reason, "below the quorum")
}

test_one_host_cannot_suspend if {
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 0)]}
	not q.suspend
}

test_at_quorum_suspension if {
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 60), host("h2", 120), host("h3", 3600)]}
	q.suspend
	q.hosts == ["h1", "h2", "h3"]
}

test_same_host_many_times_counts_once if {
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 1), host("h1", 2), host("h1", 3), host("h1", 4), host("h2", 5)]}
	not q.suspend
	q.hosts == ["h1", "h2"]
}

test_reports_outside_the_window_do_not_count if {
	old := (24 * 3600) + 1
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 60), host("h2", 120), host("h3", old)]}
	not q.suspend
	q.hosts == ["h1", "h2"]
}

test_steward_confirmation_suspends_at_once if {
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 60), steward("alice", 0)]}
	q.suspend
	q.stewards == ["alice"]
	contains(q.reason, "steward")
}

test_steward_confirmation_needs_a_host_report if {
	q := gatehouse.health_quorum with input as {"votes": [steward("alice", 0)]}
	not q.suspend
}

test_steward_is_not_counted_as_a_host if {
	q := gatehouse.health_quorum with input as {"votes": [host("h1", 0), host("h2", 0), {"voter": "h3", "kind": "steward", "age_seconds": 99999999}]}
	not q.suspend
}

# --- data flows ----------------------------------------------------------------

flow(category, destination, purpose, retention, days) := {"id": concat(">", [category, destination]), "category": category, "destination": destination, "purpose": purpose, "retention": retention, "retention_days": days, "retention_pointer": "/data/retention"}

test_retention_maxima if {
	# At the maximum passes; a day over is denied, naming the maximum.
	cases := [
		["contacts", "P400D", 400, false, "P400D"],
		["contacts", "P401D", 401, true, "P400D"],
		["contacts", "P9999D", 9999, true, "P400D"],
		["credentials", "P30D", 30, false, "P30D"],
		["credentials", "P31D", 31, true, "P30D"],
		["analytics", "P2Y", 730, false, "P730D"],
		["analytics", "P3Y", 1095, true, "P730D"],
		["products", "P5Y", 1825, false, "P1825D"],
		["unlisted_category", "P1Y6M", 545, true, "P400D"],
		["contacts", "none", 0, false, "P400D"],
	]
	every c in cases {
		d := gatehouse.decision with input as with_input({"flows": [flow(c[0], "platform", "x", c[1], c[2])]})
		denied := [v | some v in d.deny; v.rule == "retention-above-maximum"]
		(count(denied) > 0) == c[3]
		every v in denied {
			contains(v.message, sprintf("maximum of %s", [c[4]]))
			contains(v.message, c[1])
			contains(v.message, "/data/retention")
		}
	}
}

test_p9999d_refused_with_maximum if {
	d := gatehouse.decision with input as with_input({"flows": [flow("contacts", "platform", "x", "P9999D", 9999)]})
	some v in d.deny
	v.rule == "retention-above-maximum"
	contains(v.message, "P9999D")
	contains(v.message, "the policy's maximum of P400D for personal data")
	not d.auto_approve_allowed
}

test_invalid_or_missing_retention_denied if {
	d := gatehouse.decision with input as with_input({"flows": [flow("contacts", "platform", "x", "forever", -1)]})
	"retention-invalid" in rules(d)
	d2 := gatehouse.decision with input as with_input({"flows": [flow("contacts", "platform", "x", "", -1)]})
	"retention-undeclared" in rules(d2)
	d3 := gatehouse.decision with input as with_input({"flows": [flow("products", "platform", "x", "", -1)]})
	not "retention-undeclared" in rules(d3)
}

test_personal_data_to_an_origin_needs_a_purpose if {
	d := gatehouse.decision with input as with_input({"flows": [flow("contacts", "https://crm.example.com", "", "P30D", 30)]})
	some v in d.deny
	v.rule == "purpose-undeclared"
	contains(v.message, "https://crm.example.com")
	# The same flow with a purpose, or kept on the platform, or of data
	# that is not personal, passes.
	d2 := gatehouse.decision with input as with_input({"flows": [flow("contacts", "https://crm.example.com", "sync the CRM", "P30D", 30)]})
	not "purpose-undeclared" in rules(d2)
	d3 := gatehouse.decision with input as with_input({"flows": [flow("contacts", "platform", "", "P30D", 30)]})
	not "purpose-undeclared" in rules(d3)
	d4 := gatehouse.decision with input as with_input({"flows": [flow("products", "https://shop.example.com", "", "P30D", 30)]})
	not "purpose-undeclared" in rules(d4)
}

test_new_flow_is_never_auto_approved_nor_low_risk if {
	d := gatehouse.decision with input as with_input({"diff": object.union(base.diff, {"flows_added": ["contacts>https://crm.example.com"]})})
	g := gate(d, "no_new_flow")
	not g.passed
	contains(g.reason, "contacts>https://crm.example.com")
	not d.auto_approve_allowed
	not d.would_auto_approve
	d.tier == "medium"
}

test_no_new_flow_gate_fails_without_a_diff if {
	d := gatehouse.decision with input as with_input({"diff": null})
	not gate(d, "no_new_flow").passed
}

test_input_without_flows_is_judged if {
	d := gatehouse.decision with input as object.remove(base, {"flows"})
	count(d.deny) == 0
}
