# The default Gatehouse policy. The engine evaluates data.gatehouse.decision
# with the triage input (see the policy package's Input type) and reads the
# object documented on policy.Decision. The settings it reads live in
# config.rego.
package gatehouse

import data.gatehouse.config

# ---------------------------------------------------------------------------
# What the platform forbids outright. Each violation names its rule, says
# what is wrong, and suggests an alternative where there is one.

deny contains violation("forbidden-permission", sprintf("permission %s: %s", [perm_text(p), rule.message]), object.get(rule, "suggestion", "")) if {
	some p in input.permissions
	rule := config.forbidden_permission_kinds[p.kind]
}

deny contains violation(
	"insecure-origin",
	sprintf("permission net:%s fetches over plain http, which anyone on the path can read and change", [p.scope]),
	sprintf("ask for net:https://%s instead", [substring(p.scope, 7, -1)]),
) if {
	some p in input.permissions
	p.kind == "net"
	startswith(lower(p.scope), "http://")
}

deny contains violation(
	"forbidden-origin",
	sprintf("permission net:%s reaches %s, a host inside the platform's own network; plugins may only reach public services", [p.scope, host]),
	"expose the service on a public https:// origin and ask for that origin",
) if {
	some p in input.permissions
	p.kind == "net"
	host := origin_host(p.scope)
	internal_host(host)
}

deny contains violation(
	"reserved-secret",
	sprintf("permission secret:%s names a secret reserved for the platform (prefix %s)", [p.scope, prefix]),
	"name the plugin's own secret without that prefix, such as secret:MY_PLUGIN_TOKEN",
) if {
	some p in input.permissions
	p.kind == "secret"
	some prefix in config.reserved_secret_prefixes
	startswith(p.scope, prefix)
}

deny contains violation(
	"forbidden-data-category",
	sprintf("data category %q is not allowed on this platform", [c]),
	object.get(config.data_category_guidance, c, sprintf("declare only categories the plugin needs, from: %s", [concat(", ", sort(config.allowed_data_categories))])),
) if {
	some c in input.data.categories
	not c in config.allowed_data_categories
}

# ---------------------------------------------------------------------------
# Data flows: retention within the class's maximum, and a purpose for
# personal data that leaves the platform.

flows := object.get(input, "flows", [])

category_class(c) := object.get(config.data_category_class, c, "personal")

deny contains violation(
	"retention-above-maximum",
	sprintf("flow %s: the retention %s (manifest.json %s) is above the policy's maximum of P%dD for %s data (%s)", [f.id, f.retention, f.retention_pointer, max_days, class, f.category]),
	sprintf("keep %s data at most P%dD, or declare the retention none", [f.category, max_days]),
) if {
	some f in flows
	class := category_class(f.category)
	max_days := config.retention_max_days[class]
	f.retention_days > max_days
}

deny contains violation(
	"retention-invalid",
	sprintf("flow %s: the retention %q (manifest.json %s) is not none or an ISO 8601 duration the policy can judge", [f.id, f.retention, f.retention_pointer]),
	"write none, or an ISO 8601 duration such as P30D",
) if {
	some f in flows
	f.retention_days < 0
	f.retention != ""
}

deny contains violation(
	"retention-undeclared",
	sprintf("flow %s: %s data is %s data, and the manifest declares no retention for it", [f.id, f.category, class]),
	"declare data.retention (none, or an ISO 8601 duration such as P30D)",
) if {
	some f in flows
	f.retention == ""
	class := category_class(f.category)
	class in config.purpose_required_classes
}

deny contains violation(
	"purpose-undeclared",
	sprintf("flow %s: %s data (%s) goes to %s, and the manifest declares no purpose for it", [f.id, f.category, class, f.destination]),
	"declare why the data goes there: data.purpose, or a purpose on the flow in data.flows",
) if {
	some f in flows
	f.destination != "platform"
	class := category_class(f.category)
	class in config.purpose_required_classes
	trim_space(f.purpose) == ""
}

deny contains violation(
	"forbidden-license",
	sprintf("licence %q: every way to satisfy it needs a licence the marketplace does not distribute (%s)", [input.license.expression, concat(", ", sort(denied))]),
	config.license_suggestion,
) if {
	count(input.license.choices) > 0
	every choice in input.license.choices {
		some id in choice
		id in config.denied_licenses
	}
	denied := {id | some choice in input.license.choices; some id in choice; id in config.denied_licenses}
}

deny contains violation(
	"unknown-license",
	sprintf("licence %q could not be read as an SPDX expression", [object.get(input.license, "expression", "")]),
	"declare an SPDX licence expression such as MIT or Apache-2.0",
) if {
	count(object.get(input.license, "choices", [])) == 0
}

violation(rule, message, suggestion) := {"rule": rule, "message": message, "suggestion": suggestion}

perm_text(p) := p.kind if p.scope == ""
else := concat(":", [p.kind, p.scope])

# origin_host returns the host of an origin "scheme://host[:port]", without
# the brackets of an IPv6 literal.
origin_host(origin) := trim(m[0][1], "[]") if {
	m := regex.find_all_string_submatch_n(`^[a-zA-Z]+://(\[[^\]]+\]|[^:/]+)(:[0-9]+)?$`, origin, 1)
	count(m) == 1
	count(m[0]) == 3
}

internal_host(host) if lower(host) in config.forbidden_hosts

internal_host(host) if {
	some suffix in config.forbidden_host_suffixes
	endswith(lower(host), suffix)
}

internal_host(host) if {
	is_ip(host)
	some cidr in config.forbidden_networks
	net.cidr_contains(cidr, host)
}

is_ip(host) if regex.match(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`, host)

is_ip(host) if contains(host, ":")

# ---------------------------------------------------------------------------
# Provenance the platform requires (config.provenance_required). Missing
# facts fail: an input without provenance is held to have none.

provenance_applies if tier in config.provenance_required.tiers

provenance_applies if input.plugin.namespace in config.provenance_required.namespaces

provenance_scope := sprintf("the %s tier", [tier]) if {
	tier in config.provenance_required.tiers
} else := sprintf("namespace %s", [input.plugin.namespace])

provenance_problem := "the package carries none" if {
	not input.provenance.present
} else := "the attestation it carries does not name this module or is not from a builder the marketplace trusts"

deny contains violation(
	"provenance-required",
	sprintf("%s requires SLSA provenance from a trusted builder; %s", [provenance_scope, provenance_problem]),
	"build the module with a builder the marketplace trusts (serve --provenance-policy) and put its attestation in the package",
) if {
	provenance_applies
	not input.provenance.verified
}

deny contains violation(
	"reproducible-required",
	sprintf("%s requires a reproducible build, and the marketplace's rebuild from the package's source did not produce the same module", [provenance_scope]),
	"build with the plugin kit (gatehouse plugin build), which records what a rebuild needs, and include the source",
) if {
	provenance_applies
	config.provenance_required.reproducible
	not input.provenance.reproducible
}

deny contains violation(
	"source-repository-required",
	sprintf("%s requires a build from %s; the provenance names %q", [provenance_scope, concat(" or ", sort(config.provenance_required.source_repository_prefixes)), object.get(input.provenance, "source_repository", "")]),
	"build from one of the platform's repositories",
) if {
	provenance_applies
	count(config.provenance_required.source_repository_prefixes) > 0
	input.provenance.verified
	not source_repository_allowed
}

source_repository_allowed if {
	some prefix in config.provenance_required.source_repository_prefixes
	startswith(input.provenance.source_repository, prefix)
}

# ---------------------------------------------------------------------------
# Findings that block.

blocking_findings contains f.rule_id if {
	some f in input.findings
	blocking_finding(f)
}

blocking_finding(f) if {
	not f.suppressed
	f.enforced
	f.severity in config.blocking_severities
}

# ---------------------------------------------------------------------------
# Auto-approval gates: yes/no questions only, every one reported. A gate
# passes only on positive evidence; missing facts fail it.



gate_no_blocking_finding := {"name": "no_blocking_finding", "passed": true, "reason": "no unsuppressed finding blocks the version"} if {
	count(blocking_findings) == 0
} else := {"name": "no_blocking_finding", "passed": false, "reason": sprintf("blocking findings: %s", [concat(", ", sort(blocking_findings))])}

# A check is good when it passed, or was skipped without blocking (the diff
# analyzer skips a first version, for example).
check_good(c) if c.status == "passed"

check_good(c) if {
	c.status == "skipped"
	not c.blocking
}

bad_checks contains sprintf("%s is %s", [c.analyzer, c.status]) if {
	some c in input.checks
	c.required
	not check_good(c)
}

bad_checks contains sprintf("%s failed and is enforced", [c.analyzer]) if {
	some c in input.checks
	not c.required
	c.blocking
}

gate_required_checks_passed := {"name": "required_checks_passed", "passed": true, "reason": sprintf("all %d checks passed or were skipped without blocking", [count(input.checks)])} if {
	count(input.checks) > 0
	count(bad_checks) == 0
} else := {"name": "required_checks_passed", "passed": false, "reason": "no vetting results were recorded for the version"} if {
	count(object.get(input, "checks", [])) == 0
} else := {"name": "required_checks_passed", "passed": false, "reason": concat("; ", sort(bad_checks))}

gate_not_first_version := {"name": "not_first_version", "passed": true, "reason": sprintf("version %s was approved before", [input.plugin.previous_version])} if {
	input.plugin.first_version == false
	input.plugin.previous_version != ""
} else := {"name": "not_first_version", "passed": false, "reason": "this is the plugin's first version; a person reviews every new plugin"}

# The change gates need the comparison with the last approved version; a
# version with nothing to compare with fails them.
no_diff_reason := "there is no approved version to compare with"

gate_no_new_permission := {"name": "no_new_permission", "passed": true, "reason": "no permission added since the last approved version"} if {
	is_object(input.diff)
	count(input.diff.permissions_added) == 0
} else := {"name": "no_new_permission", "passed": false, "reason": no_diff_reason} if {
	not is_object(input.diff)
} else := {"name": "no_new_permission", "passed": false, "reason": sprintf("permissions added: %s", [concat(", ", sort(input.diff.permissions_added))])}

gate_no_new_origin := {"name": "no_new_origin", "passed": true, "reason": "no network origin added since the last approved version"} if {
	is_object(input.diff)
	count(input.diff.origins_added) == 0
} else := {"name": "no_new_origin", "passed": false, "reason": no_diff_reason} if {
	not is_object(input.diff)
} else := {"name": "no_new_origin", "passed": false, "reason": sprintf("origins added: %s", [concat(", ", sort(input.diff.origins_added))])}

gate_no_new_data_category := {"name": "no_new_data_category", "passed": true, "reason": "no data category added since the last approved version"} if {
	is_object(input.diff)
	count(input.diff.data_categories_added) == 0
} else := {"name": "no_new_data_category", "passed": false, "reason": no_diff_reason} if {
	not is_object(input.diff)
} else := {"name": "no_new_data_category", "passed": false, "reason": sprintf("data categories added: %s", [concat(", ", sort(input.diff.data_categories_added))])}

new_flows := input.diff.flows_added if {
	is_object(input.diff)
	is_array(input.diff.flows_added)
} else := []

gate_no_new_flow := {"name": "no_new_flow", "passed": true, "reason": "no data flow added since the last approved version"} if {
	is_object(input.diff)
	count(new_flows) == 0
} else := {"name": "no_new_flow", "passed": false, "reason": no_diff_reason} if {
	not is_object(input.diff)
} else := {"name": "no_new_flow", "passed": false, "reason": sprintf("data flows added: %s", [concat(", ", sort(new_flows))])}

gate_no_host_api_change := {"name": "no_host_api_change", "passed": true, "reason": "the host API range is unchanged"} if {
	is_object(input.diff)
	input.diff.host_api_changed == false
} else := {"name": "no_host_api_change", "passed": false, "reason": no_diff_reason} if {
	not is_object(input.diff)
} else := {"name": "no_host_api_change", "passed": false, "reason": sprintf("the host API range changed from %q to %q", [input.diff.previous_host_api, input.host_api])}

gate_publisher_in_good_standing := {"name": "publisher_in_good_standing", "passed": true, "reason": "the publisher is in good standing"} if {
	input.publisher.in_good_standing == true
} else := {"name": "publisher_in_good_standing", "passed": false, "reason": "the publisher is not in good standing"}

recent_changes contains sprintf("namespace ownership changed %d day(s) ago", [d]) if {
	d := input.publisher.ownership_changed_days_ago
	is_number(d)
	d < config.ownership_change_quiet_days
}

recent_changes contains sprintf("the publisher's signing key changed %d day(s) ago", [d]) if {
	d := input.publisher.key_changed_days_ago
	is_number(d)
	d < config.ownership_change_quiet_days
}

gate_no_recent_ownership_change := {"name": "no_recent_ownership_or_key_change", "passed": true, "reason": sprintf("no namespace ownership or key change in the last %d days", [config.ownership_change_quiet_days])} if {
	is_object(input.publisher)
	count(recent_changes) == 0
} else := {"name": "no_recent_ownership_or_key_change", "passed": false, "reason": "the publisher's history is unknown"} if {
	not is_object(input.publisher)
} else := {"name": "no_recent_ownership_or_key_change", "passed": false, "reason": concat("; ", sort(recent_changes))}

switched_off contains "the plugin" if input.auto_approval_off.plugin != false

switched_off contains "the namespace" if input.auto_approval_off.namespace != false

gate_auto_approval_switched_on := {"name": "auto_approval_not_switched_off", "passed": true, "reason": "auto-approval is on for the plugin and its namespace"} if {
	is_object(input.auto_approval_off)
	count(switched_off) == 0
} else := {"name": "auto_approval_not_switched_off", "passed": false, "reason": "auto-approval is switched off (no setting recorded)"} if {
	not is_object(input.auto_approval_off)
} else := {"name": "auto_approval_not_switched_off", "passed": false, "reason": sprintf("auto-approval is switched off for %s", [concat(" and ", sort(switched_off))])}

gates := [
	gate_no_blocking_finding,
	gate_required_checks_passed,
	gate_not_first_version,
	gate_no_new_permission,
	gate_no_new_origin,
	gate_no_new_data_category,
	gate_no_new_flow,
	gate_no_host_api_change,
	gate_publisher_in_good_standing,
	gate_no_recent_ownership_change,
	gate_auto_approval_switched_on,
]

failed_gates := [g | some g in gates; not g.passed]

# Would auto-approval let the version through? Recorded even when the mode
# is "dry_run", so stewards can tune the gates before switching them on.
would_auto_approve if {
	count(failed_gates) == 0
	count(deny) == 0
}

default auto_approve_allowed := false

auto_approve_allowed if {
	would_auto_approve
	config.auto_approval_mode == "on"
}

# ---------------------------------------------------------------------------
# Risk tier from the additive weight computed by triage.

weight := input.weight.total

tier := "critical" if {
	weight >= config.tier_thresholds.critical
} else := "high" if {
	weight >= config.tier_thresholds.high
} else := "medium" if {
	weight >= config.tier_thresholds.medium
} else := "medium" if {
	# A new data flow is never low-risk, whatever the weight.
	count(new_flows) > 0
} else := "low" if {
	is_number(weight)
}

# What the tier needs: approvals, review deadline, certificate lifetime,
# revalidation cadence and remediation deadline.
settings := config.tiers[tier]

# ---------------------------------------------------------------------------
# Explanation: which rules fired and why, in a stable order.

explanation := array.concat(
	array.concat(
		[sprintf("denied by %s: %s", [v.rule, v.message]) | some v in deny],
		[sprintf("finding %s (%s, from %s) blocks the version", [f.rule_id, f.severity, f.analyzer]) | some f in input.findings; blocking_finding(f)],
	),
	array.concat(
		[
			sprintf("risk weight %d puts the version in the %s tier (medium from %d, high from %d, critical from %d)", [weight, tier, config.tier_thresholds.medium, config.tier_thresholds.high, config.tier_thresholds.critical]),
			sprintf("the %s tier needs %d approval(s), a review within %d hours, and a certificate valid for %d days, revalidated every %d days", [tier, settings.approvals, settings.review_deadline_hours, settings.certificate_lifetime_days, settings.revalidation_days]),
		],
		array.concat(
			[sprintf("auto-approval gate %s failed: %s", [g.name, g.reason]) | some g in failed_gates],
			[auto_approval_summary],
		),
	),
)

auto_approval_summary := "every auto-approval gate passed and auto-approval is on" if {
	auto_approve_allowed
} else := "every auto-approval gate passed, but auto-approval is in dry-run mode: a person reviews the version" if {
	would_auto_approve
} else := sprintf("auto-approval is not allowed: %d gate(s) failed, %d policy violation(s)", [count(failed_gates), count(deny)])

# ---------------------------------------------------------------------------
# The decision the engine reads.

decision := {
	"deny": deny,
	"blocking_findings": blocking_findings,
	"tier": tier,
	"gates": gates,
	"auto_approval_mode": config.auto_approval_mode,
	"would_auto_approve": would_auto_approve_value,
	"auto_approve_allowed": auto_approve_allowed,
	"approvals_required": settings.approvals,
	"review_deadline_hours": settings.review_deadline_hours,
	"certificate_lifetime_days": settings.certificate_lifetime_days,
	"revalidation_days": settings.revalidation_days,
	"remediation_days": settings.remediation_days,
	"host_health": config.host_health,
	"explanation": explanation,
}

default would_auto_approve_value := false

would_auto_approve_value if would_auto_approve
