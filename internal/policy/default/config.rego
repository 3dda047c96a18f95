# The default policy's settings. A steward tunes the platform by editing the
# values here; the rules in policy.rego read them and hold no numbers or lists
# of their own. Every value is data, so a proposed change can be tested and
# dry-run against pending versions before it is applied.
package gatehouse.config

# Auto-approval as a whole: "on" lets versions that pass every gate through
# without a person; "dry_run" sends everything to review but still records
# what auto-approval would have done, so a steward can watch it before
# trusting it.
auto_approval_mode := "on"

# Permission kinds no plugin may ask for at all, with the message a plugin
# author sees and a suggested alternative. Empty by default: every kind of
# the host API is allowed, subject to the rules below.
#   Example: {"data:write": {"message": "...", "suggestion": "..."}}
forbidden_permission_kinds := {}

# Secret names the platform keeps for itself.
reserved_secret_prefixes := {"GATEHOUSE_"}

# Origins plugins may not reach: hosts and networks inside the platform
# (loopback, private, link-local, the cloud metadata service). Reaching them
# from a plugin is server-side request forgery waiting to happen.
forbidden_hosts := {"localhost", "metadata.google.internal", "metadata"}

forbidden_host_suffixes := {".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa"}

forbidden_networks := {
	"0.0.0.0/8",
	"10.0.0.0/8",
	"100.64.0.0/10",
	"127.0.0.0/8",
	"169.254.0.0/16",
	"172.16.0.0/12",
	"192.168.0.0/16",
	"::1/128",
	"fc00::/7",
	"fe80::/10",
}

# The data categories a plugin may declare. Anything else is refused.
allowed_data_categories := {
	"account",
	"analytics",
	"calendar",
	"contacts",
	"credentials",
	"documents",
	"files",
	"messages",
	"orders",
	"products",
	"tasks",
	"usage",
}

# What to tell the author of a plugin that declares a category outside the
# allowed list, for the categories authors most often ask for.
data_category_guidance := {
	"health": "Health data needs a platform agreement this marketplace does not offer; keep health data out of the plugin, or process only aggregated, de-identified figures declared as \"analytics\".",
	"biometric": "Biometric data is not processed by marketplace plugins; use the platform's own sign-in and identity features instead.",
	"genetic": "Genetic data is not processed by marketplace plugins; keep it in a system built and certified for it.",
	"children": "Data about children is not processed by marketplace plugins; restrict the plugin to adult accounts.",
	"criminal_records": "Criminal-record data is not processed by marketplace plugins.",
	"payment_cards": "Card numbers never pass through plugins; hand payments to the platform's payment provider and declare \"orders\".",
	"location": "Precise location is not available to plugins; use the coarse region in \"account\" data.",
}

# Data flows (issue 20). Each data category belongs to a class; the class
# sets how long a plugin may keep the data at most, in days (a year counts
# 365, a month 30). A category not listed here is held to be personal
# data: unknown data gets the strictest ordinary treatment, not none.
data_category_class := {
	"account": "personal",
	"calendar": "personal",
	"contacts": "personal",
	"documents": "personal",
	"files": "personal",
	"messages": "personal",
	"orders": "personal",
	"tasks": "personal",
	"credentials": "credentials",
	"analytics": "usage",
	"usage": "usage",
	"products": "business",
}

retention_max_days := {
	"credentials": 30,
	"personal": 400,
	"usage": 730,
	"business": 1825,
}

# Classes whose flows to an origin outside the platform must state a
# purpose.
purpose_required_classes := {"personal", "credentials"}

# Licences the marketplace does not distribute, with the suggestion shown to
# the author. A plugin is refused only when every way of satisfying its SPDX
# expression needs one of these (so "MIT OR AGPL-3.0-only" is accepted).
denied_licenses := {
	"AGPL-1.0-only",
	"AGPL-1.0-or-later",
	"AGPL-3.0",
	"AGPL-3.0-only",
	"AGPL-3.0-or-later",
	"BUSL-1.1",
	"CC-BY-NC-4.0",
	"CC-BY-NC-ND-4.0",
	"CC-BY-NC-SA-4.0",
	"Commons-Clause",
	"SSPL-1.0",
}

license_suggestion := "Offer the plugin under a permissive licence such as MIT, Apache-2.0 or BSD-3-Clause (a dual licence such as \"MIT OR AGPL-3.0-only\" is accepted)."

# Unsuppressed findings of these severities, from checks that are enforced,
# block a version: it is rejected until they are fixed or marked false
# positives. Medium findings fail their check, which sends the version to a
# person instead of auto-approval.
blocking_severities := {"critical", "high"}

# Ownership or key changes of the namespace more recent than this stop
# auto-approval: a taken-over account must not push an update unseen.
ownership_change_quiet_days := 14

# Risk tiers by the additive risk weight (triage.Weigh): a version is in the
# highest tier whose threshold its weight reaches.
tier_thresholds := {"medium": 15, "high": 35, "critical": 60}

# Per tier: distinct approvals needed, hours until the review is overdue and
# escalated, the lifetime of the certificate issued on approval, how often a
# certified version is revalidated (analyzers re-run with today's rules,
# vulnerability database, policy and host API), and how long the publisher
# has to ship a fix once revalidation suspends a version before it is
# revoked. Revalidation comes well before expiry, so a passing version is
# always renewed in time.
tiers := {
	"low": {"approvals": 1, "review_deadline_hours": 24, "certificate_lifetime_days": 90, "revalidation_days": 30, "remediation_days": 30},
	"medium": {"approvals": 1, "review_deadline_hours": 72, "certificate_lifetime_days": 60, "revalidation_days": 14, "remediation_days": 21},
	"high": {"approvals": 2, "review_deadline_hours": 120, "certificate_lifetime_days": 30, "revalidation_days": 7, "remediation_days": 14},
	"critical": {"approvals": 2, "review_deadline_hours": 168, "certificate_lifetime_days": 14, "revalidation_days": 3, "remediation_days": 7},
}

# Runtime health that hosts report (calls, errors, breaker trips over a
# window): a certified version whose error rate or breaker trips reach these
# over at least min_calls calls raises an alert, and its next revalidation is
# decided by people rather than by the analyzers alone.
host_health := {"max_error_rate": 0.05, "max_breaker_trips": 3, "min_calls": 100}

# Provenance a version must carry to be certified, by risk tier or by
# namespace (a version is held to it when either names it). Empty by
# default: provenance is checked and reported (the certificate's
# "provenance" and "reproducible" checks) but required of no one.
#   tiers, namespaces: where the requirement applies;
#   reproducible: the marketplace's rebuild must also match the module;
#   source_repository_prefixes: when not empty, the attestation's source
#     repository must start with one of them.
#   Example: {"tiers": {"high", "critical"}, "namespaces": {"payments"},
#             "reproducible": true, "source_repository_prefixes": {"https://github.com/acme/"}}
provenance_required := {"tiers": set(), "namespaces": set(), "reproducible": false, "source_repository_prefixes": set()}

# Host health by quorum: a host's failing report quarantines the version on
# that host only. The marketplace suspends the version everywhere only when
# this many distinct hosts (host tokens) reported it failing within
# window_hours, or when this many stewards confirmed the hosts' reports, so
# one faulty or hostile host cannot take a plugin down everywhere.
host_quorum := {"hosts": 3, "window_hours": 24, "steward_confirmations": 1}

# Releases (issue 18). Before a version moves into an environment it must
# have soaked in the one before: run there for `hours`, on at least
# `min_hosts` hosts that reported at least `min_calls` calls between them,
# at an error rate no higher than `max_error_rate` and with no more than
# `max_breaker_trips` breaker trips. Environments not named use `default`.
promotion_soak := {
	"staging": {"hours": 1, "min_hosts": 1, "min_calls": 100, "max_error_rate": 0.01, "max_breaker_trips": 0},
	"prod": {"hours": 24, "min_hosts": 2, "min_calls": 1000, "max_error_rate": 0.01, "max_breaker_trips": 0},
	"default": {"hours": 24, "min_hosts": 1, "min_calls": 100, "max_error_rate": 0.01, "max_breaker_trips": 0},
}

# Risk tiers whose versions need a steward's approval before they reach
# the last environment (production).
production_approval_tiers := {"high", "critical"}

# A staged rollout halts itself when this many distinct hosts running the
# new version report it failing (an error rate above max_error_rate over at
# least min_calls calls, or a breaker trip), so one faulty or hostile host
# cannot stop a rollout alone.
rollout_halt := {"failing_hosts": 3, "max_error_rate": 0.05, "min_calls": 10}
