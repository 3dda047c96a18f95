package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The actions: every value Event.Action takes. The strings are what the
// trail stores and what each event's hash covers, so a declared string is
// never changed; a new kind of event gets a new constant and a catalogue
// entry. The store refuses an action that is not declared here (see
// CheckAction), and a test in this package fails on code that writes a
// string literal or an undeclared constant into Event.Action.
const (
	// A version's life: submission, vetting, the lifecycle.
	SubmissionCreate     = "submission.create"
	SubmissionSignature  = "submission.signature"
	SubmissionVet        = "submission.vet"
	SubmissionTransition = "submission.transition"
	SubmissionResume     = "submission.resume"

	// Triage and human review.
	TriageVerdict  = "triage.verdict"
	ReviewOpen     = "review.open"
	ReviewClaim    = "review.claim"
	ReviewApprove  = "review.approve"
	ReviewMessage  = "review.message"
	ReviewEscalate = "review.escalate"

	// Findings and the vulnerability database.
	FindingTruePositive  = "finding.true_positive"
	FindingFalsePositive = "finding.false_positive"
	VulnDBImport         = "vulndb.import"

	// Certificates, revocation and the transparency log. The first five
	// are also the kinds of the trust log's entries (trust.EventKind).
	CertificateIssued       = "certificate.issued"
	CertificateRenewed      = "certificate.renewed"
	VersionSuspended        = "version.suspended"
	VersionRevoked          = "version.revoked"
	RevocationListPublished = "revocation-list.published"
	TrustEvent              = "trust.event"

	// Namespaces and publisher keys.
	NamespaceClaim                = "namespace.claim"
	NamespaceSignatureRequirement = "namespace.signature-requirement"
	PublisherKeyAdded             = "publisher-key.added"
	PublisherKeyRemoved           = "publisher-key.removed"
	PublisherKeyCompromised       = "publisher-key.compromised"
	// NamespaceOwnerTransfer starts with "namespace.owner", which triage
	// reads as a change of ownership (review.namespaceChanges).
	NamespaceOwnerTransfer = "namespace.owner-transfer"

	// Review policy.
	PolicyApply     = "policy.apply"
	AutoApprovalOn  = "autoapproval.on"
	AutoApprovalOff = "autoapproval.off"

	// Revalidation, host API changes and field health.
	RevalidationPassed     = "revalidation.passed"
	RevalidationFailed     = "revalidation.failed"
	RevalidationErrored    = "revalidation.errored"
	RevalidationSuperseded = "revalidation.superseded"
	RevalidationReviewed   = "revalidation.reviewed"
	HostAPIOffered         = "hostapi.offered"
	HostAPIIncompatible    = "hostapi.incompatible"
	HostAPIPublished       = "hostapi.published"
	HostAPISunsetNotice    = "hostapi.sunset_notice"
	HealthAlert            = "health.alert"
	HealthConfirmed        = "health.confirmed"
	HealthQuorum           = "health.quorum"

	// Retention of personal data.
	AuditPseudonymise        = "audit.pseudonymise"
	TokenPurge               = "token.purge"
	RecordsPurge             = "records.purge"
	PersonalDataRetentionSet = "personal-data-retention.set"

	// Incidents and hunting.
	IncidentOpened        = "incident.opened"
	IncidentVersionsAdded = "incident.versions_added"
	IncidentNote          = "incident.note"
	IncidentNotice        = "incident.notice"
	IncidentRuleAdded     = "incident.rule_added"
	IncidentHunted        = "incident.hunted"
	IncidentContain       = "incident.contain"
	IncidentContained     = "incident.contained"
	IncidentRemediated    = "incident.remediated"
	IncidentClosed        = "incident.closed"
	HuntRuleDisable       = "hunt.rule.disable"

	// Access: tokens and web sign-in.
	TokenCreate      = "token.create"
	TokenRevoke      = "token.revoke"
	WebSignin        = "web.signin"
	WebSigninRefused = "web.signin_refused"

	// Environments and releases (issue 18).
	ReleaseChanged      = "release.changed"
	ReleaseApproved     = "release.approved"
	PluginKilled        = "plugin.killed"
	StatusFeedPublished = "status-feed.published"

	// Webhooks.
	WebhookCreate         = "webhook.create"
	WebhookDisable        = "webhook.disable"
	WebhookDeliveryReplay = "webhook.delivery.replay"
	WebhookDeliveryDead   = "webhook.delivery.dead"
)

// Entry declares one action: what an event of it says, for the auditors
// who read the trail (docs/audit-events.md is made from these).
type Entry struct {
	Action  string   // the value of Event.Action
	Meaning string   // what happened, and what Reason, OldState and NewState hold
	Actor   string   // whom Event.Actor names, and (in parentheses) the package that records it
	Subject string   // the form of Event.Subject
	Data    []string // the keys of the JSON object in Event.Data; none when it is empty
}

var catalogue = []Entry{
	{SubmissionCreate,
		"A publisher submitted a package; the version now exists in state `received`. NewState is `received`, Reason says what happens next.",
		"the publisher's token subject (intake, on `POST /api/v1/submissions`, which `gatehouse plugin submit` calls)", "`submission:ID`",
		[]string{"plugin", "version", "digest", "size", "legacy", "signed"}},
	{SubmissionSignature,
		"The submitted package came with a publisher signature, kept before the version became visible to vetting. Reason names the signing key.",
		"the submitting token's subject (intake)", "`submission:ID`", nil},
	{SubmissionVet,
		"The analyzers ran over the package. Reason is `every enforced check passed` or `blocked: ` and the failing checks; `why` is set when someone asked for the run again.",
		"`system` for the vetting worker, or the person who asked for a re-vet (intake)", "`submission:ID`",
		[]string{"blocked", "analyzers", "why"}},
	{SubmissionTransition,
		"The version moved from one lifecycle state to another. OldState and NewState are the two states; Reason says why.",
		"`system` for automatic steps, or the reviewer, steward or admin who decided (intake, review, certify)", "`submission:ID`", nil},
	{SubmissionResume,
		"Work on a version that a restart or crash had interrupted was taken up again (re-queued vetting, or a certificate issued for an approval that had none). Reason says which.",
		"`system` (intake's resume, review)", "`submission:ID`",
		[]string{"policy"}},

	{TriageVerdict,
		"The review policy decided a vetted version: auto-approve, queue for human review, or reject. Reason is the outcome and the policy's reasons.",
		"`system` (review)", "`submission:ID`",
		[]string{"policy", "tier", "weight", "dryRun"}},
	{ReviewOpen,
		"The version entered the human review queue, after triage or on the publisher's appeal. Reason gives the tier, weight, approvals required and deadline, or `appeal`.",
		"`system` after triage, or the appealing publisher (review)", "`submission:ID`", nil},
	{ReviewClaim,
		"A reviewer claimed the review so that others do not duplicate it. Reason says until when.",
		"the reviewer (review)", "`submission:ID`", nil},
	{ReviewApprove,
		"A reviewer approved the version, granting the listed permissions (never more than the manifest asks). Reason is the reviewer's note.",
		"the reviewer (review)", "`submission:ID`",
		[]string{"granted"}},
	{ReviewMessage,
		"A message was added to the version's review thread. Reason says which kind: `approval note`, `rejection`, `changes requested`, `comment` or `appeal`; the text is in the thread, not the trail.",
		"the reviewer or publisher who wrote it (review)", "`submission:ID`", nil},
	{ReviewEscalate,
		"A review passed its deadline without a decision and was escalated.",
		"`system` (the store's escalation sweep)", "`submission:ID`",
		[]string{"deadline", "tier", "claimedBy"}},

	{FindingTruePositive,
		"A reviewer confirmed that an analyzer's finding is real. Reason is the reviewer's.",
		"the reviewer (app)", "`submission:ID`",
		[]string{"fingerprint", "rule", "submission"}},
	{FindingFalsePositive,
		"A reviewer marked a finding a false positive; later versions of the plugin with the same finding show it suppressed. Reason is the reviewer's.",
		"the reviewer (app)", "`plugin:NS/NAME`",
		[]string{"fingerprint", "rule", "version", "submission"}},
	{VulnDBImport,
		"An admin imported a vulnerability database that the dependency analyzer now checks against. Reason names its version.",
		"the admin (app)", "`vulndb`",
		[]string{"version", "records", "bytes"}},

	{CertificateIssued,
		"The marketplace signed a certificate for the version and logged it in the transparency log; hosts now install it. Reason says on what grounds (approval, auto-approval).",
		"the approving reviewer, or `system` (certify)", "`submission:ID`",
		[]string{"document", "keyId", "expiresAt", "checks", "permissions"}},
	{CertificateRenewed,
		"A certified version's certificate was replaced by a fresh one, after a passed revalidation.",
		"the revalidation's actor, usually `system` (certify)", "`submission:ID`",
		[]string{"document", "keyId", "expiresAt", "checks", "permissions"}},
	{VersionSuspended,
		"A certified version was suspended: hosts stop new installs until it is fixed or the deadline passes. Reason says why.",
		"the steward or `system` for a failed revalidation (certify)", "`submission:ID`",
		[]string{"deadline"}},
	{VersionRevoked,
		"A version was revoked: its digest goes on the signed revocation list and hosts remove it. Reason is the one hosts read.",
		"the steward, or `system` when a remediation deadline passed (certify)", "`submission:ID`",
		[]string{"digest"}},
	{RevocationListPublished,
		"A new signed revocation list was published. Reason gives its number, entry count and next update.",
		"the revoking actor, or `system` for the periodic re-publish (certify)", "`revocation-list`", nil},
	{TrustEvent,
		"A change recorded elsewhere in the trail (a namespace owner, an applied policy) was queued for the transparency log. Reason is the log entry's subject.",
		"`system` (certify)", "`log:KIND`, KIND being the trust log entry's kind", nil},

	{NamespaceClaim,
		"A namespace without an owner was claimed by the principal, on its first submission or first publisher key. Reason says which.",
		"the claiming publisher (intake, app)", "`namespace:NS`", nil},
	{NamespaceSignatureRequirement,
		"An admin turned the requirement of publisher signatures on or off for a namespace. Reason is the admin's.",
		"the admin (app)", "`namespace:NS`",
		[]string{"signaturesRequired"}},
	{PublisherKeyAdded,
		"A publisher key was registered for a namespace and logged in the transparency log. Reason names the key.",
		"the namespace's owner or an admin (app)", "`namespace:NS`", nil},
	{PublisherKeyRemoved,
		"A publisher key was retired from a namespace; what it signed while current still verifies. Reason names the key; every certified version it signed is queued for revalidation.",
		"the namespace's owner or an admin (app)", "`namespace:NS`",
		[]string{"key", "recheck"}},
	{PublisherKeyCompromised,
		"A publisher key was reported stolen: it is retired, no signature by it is trusted any more, and the certified versions signed only by it are suspended (each with its own `version.suspended`); versions also signed by another key are queued for revalidation. Reason is the reporter's.",
		"the namespace's owner, a steward or an admin (app)", "`namespace:NS`",
		[]string{"key", "suspend", "recheck"}},
	{NamespaceOwnerTransfer,
		"An admin transferred a namespace to new owners, who hear of it through the namespace's webhooks; every certified version of the namespace is queued for revalidation. Reason is the admin's.",
		"the admin (app)", "`namespace:NS`",
		[]string{"from", "to", "recheck", "revokedTokens"}},

	{PolicyApply,
		"An admin replaced the active review policy. Reason names the digest it replaces.",
		"the admin (app)", "`policy:DIGEST` of the new policy", nil},
	{AutoApprovalOn,
		"Auto-approval was allowed again for a plugin or namespace. Reason is the steward's.",
		"the steward or admin (app)", "`plugin:NS/NAME` or `namespace:NS`", nil},
	{AutoApprovalOff,
		"Auto-approval was switched off for a plugin or namespace; its versions go to human review. Reason is the steward's.",
		"the steward or admin (app)", "`plugin:NS/NAME` or `namespace:NS`", nil},

	{RevalidationPassed,
		"A certified version was vetted again under the current analyzers and policy and passed; its certificate is renewed.",
		"`system`, or the person who asked for the run (revalidate)", "`submission:ID`",
		[]string{"plugin", "version", "tier", "next", "run"}},
	{RevalidationFailed,
		"A revalidation failed: the version is suspended and the publisher has until the deadline to certify a fix. Reason summarises the problems.",
		"`system`, or the person who asked for the run (revalidate)", "`submission:ID`",
		[]string{"plugin", "version", "tier", "deadline", "run", "problems", "why", "fix"}},
	{RevalidationErrored,
		"A revalidation could not complete (not a verdict on the version); it is retried later. Reason is the cause.",
		"`system` (revalidate)", "`submission:ID`", nil},
	{RevalidationSuperseded,
		"A suspended version's deadline passed, but a newer certified version serves the plugin, so it stays suspended instead of being revoked.",
		"`system` (revalidate)", "`submission:ID`", nil},
	{RevalidationReviewed,
		"A steward reviewed a version whose revalidation had been routed to people; the analyzers decide its next revalidation.",
		"the steward (revalidate)", "`submission:ID`", nil},
	{HostAPIOffered,
		"The platform started offering a host API version.",
		"the admin (revalidate)", "`hostapi:VERSION`", nil},
	{HostAPIIncompatible,
		"A version declares a host API range that excludes a newly offered host API version, or imports a function or needs a capability a newly published version lacks. Reason says what the publisher should do.",
		"the admin who offered or published the host API (revalidate, hostcompat)", "`submission:ID`", nil},
	{HostAPIPublished,
		"A host API version was published with its functions and capabilities, possibly deprecating an older one with a sunset date; every certified version is checked against it and queued for revalidation. Broadcast to every webhook subscription.",
		"the steward (hostcompat)", "`hostapi:VERSION`",
		[]string{"version", "deprecates", "sunset", "migrationUrl", "functions", "capabilities", "checked", "broken", "deprecated", "queued", "broadcast"}},
	{HostAPISunsetNotice,
		"The authors of a plugin are told that a host API version its certified versions still need sunsets within 90, 30 or 7 days (one notice per plugin, version and threshold).",
		"`system` (hostcompat)", "`plugin:NS/NAME`",
		[]string{"plugin", "versions", "hostApi", "replacedBy", "sunset", "threshold", "migrationUrl"}},
	{HealthAlert,
		"A host reported a version unhealthy in the field (error rate or breaker trips over the threshold), the first time within the quorum window: that host quarantines it locally and its vote counts towards the quorum. Reason gives the window and reasons.",
		"the reporting host's token subject (health)", "`submission:ID`",
		[]string{"plugin", "version", "host", "errorRate", "reasons", "hosts", "requiredHosts"}},
	{HealthConfirmed,
		"A steward confirmed hosts' failing health reports of a version; with the policy's steward confirmations in, the version is suspended. Reason is the steward's.",
		"the steward (health)", "`submission:ID`",
		[]string{"plugin", "version", "hosts"}},
	{HealthQuorum,
		"Distinct hosts (or a steward's confirmation) reached the policy's health quorum, so the version was suspended marketplace-wide, in the same transaction. Names the hosts that made the quorum.",
		"the host whose report completed the quorum, or the confirming steward (health)", "`submission:ID`",
		[]string{"plugin", "version", "hosts", "stewards", "requiredHosts", "requiredStewards", "windowHours", "reason"}},

	{IncidentOpened,
		"A steward opened a security incident, naming plugins or versions. Reason is its title.",
		"the steward (incident)", "`incident:ID`",
		[]string{"title", "severity", "plugins", "versions"}},
	{IncidentVersionsAdded,
		"Versions were added to an incident, by name or by a hunting rule's match (`source` says which).",
		"the steward (incident)", "`incident:ID`",
		[]string{"source", "plugins", "versions"}},
	{AuditPseudonymise,
		"The retention purge replaced the actors, and the subjects naming a person, of events older than the retention by their commitments (the chain still verifies). Reason says the cut-off.",
		"system", "`audit`",
		[]string{"before", "pseudonymised", "sealedBefore"}},
	{TokenPurge,
		"The retention purge deleted the tokens that expired or were revoked before the cut-off, with their subjects (the people they were issued to); an expired or revoked token authenticates nothing, so nothing else changes. Reason says the cut-off; the ids are not recorded, as the trail names a token only until its own events are pseudonymised.",
		"system", "`tokens`",
		[]string{"before", "deleted"}},
	{RecordsPurge,
		"The retention purge deleted rows that name people and serve nothing any more: field health reports received, and health votes last cast, before the cut-off; webhook deliveries delivered or given up before it (with their attempts); webhooks disabled before it, with their deliveries. Reason says the cut-off.",
		"system", "`records`",
		[]string{"before", "healthReports", "healthVotes", "deliveries", "webhooks"}},
	{PersonalDataRetentionSet,
		"The personal data retention of the installation was recorded (by the first process to start on the database) or changed (by a process started with `--change-personal-data-retention`); every process purges with it. OldState and NewState are the retention before (empty the first time) and after, in days (`400d`); Reason says which process.",
		"`system`", "`setting:personal-data-retention`", nil},
	{IncidentNote,
		"A note was added to the incident's timeline. Reason is the note.",
		"the steward (incident)", "`incident:ID`",
		[]string{"plugins"}},
	{IncidentNotice,
		"A notice was broadcast to the hosts and publishers of the incident's plugins. Reason is the message.",
		"the steward (incident)", "`incident:ID`",
		[]string{"broadcast", "title", "severity", "plugins", "message"}},
	{IncidentRuleAdded,
		"A hunting rule was added to an incident (content patterns are shown redacted). Reason is its description.",
		"the steward (incident)", "`incident:ID`",
		[]string{"rule", "kind", "pattern"}},
	{IncidentHunted,
		"A hunting rule was run over every stored version. Reason gives how many matched and how many are installable.",
		"the steward (incident)", "`incident:ID`",
		[]string{"rule", "scanned", "matched", "hits", "unreadable", "plugins"}},
	{IncidentContain,
		"A steward applied a containment action (suspend or revoke) to the incident's versions. Reason says how many are still installable.",
		"the steward (incident)", "`incident:ID`",
		[]string{"action", "deadline", "outcomes", "plugins"}},
	{IncidentContained,
		"No version named by the incident is installable any more; the time to contain is measured from its opening.",
		"`system` (incident)", "`incident:ID`",
		[]string{"timeToContainSeconds", "plugins"}},
	{IncidentRemediated,
		"Every named version is revoked or superseded by a certified fix.",
		"`system` (incident)", "`incident:ID`",
		[]string{"timeToRemediateSeconds", "plugins"}},
	{IncidentClosed,
		"A steward closed the incident.",
		"the steward (incident)", "`incident:ID`",
		[]string{"plugins", "timeToContainSeconds", "timeToRemediateSeconds"}},
	{HuntRuleDisable,
		"A hunting rule was disabled; hunts skip it from now on.",
		"the steward (app)", "`hunt-rule:ID`",
		[]string{"rule"}},

	{TokenCreate,
		"An API token was created (its secret is never recorded).",
		"the admin (app), or `system` when the marketplace writes its first admin token at start-up (marketplace)", "`token:ID`",
		[]string{"subject", "role", "namespace", "expiresAt"}},
	{TokenRevoke,
		"An API token was revoked; it is refused from now on.",
		"the admin (app)", "`token:ID`", nil},
	{WebSignin,
		"A token's holder signed in to the web pages.",
		"the token's subject (app, at web sign-in)", "`token:ID`", nil},
	{WebSigninRefused,
		"A known token was refused at web sign-in (expired, revoked). Unknown tokens are not recorded, or anyone could fill the trail. Reason is the refusal.",
		"the token's subject (app, at web sign-in)", "`token:ID`", nil},

	{WebhookCreate,
		"A webhook subscription was created (the URL is recorded without its query, which may hold secrets).",
		"the subscribing token's subject (webhook)", "`webhook:ID`",
		[]string{"url", "events", "namespace", "plugin"}},
	{WebhookDisable,
		"A webhook subscription was disabled, by a person or because the receiver answered 410 Gone. Reason says which.",
		"the person, or `system` (webhook)", "`webhook:ID`", nil},
	{WebhookDeliveryReplay,
		"Deliveries of a webhook were sent again with a fresh retry budget: the listed ones, or every dead one (Reason `every dead letter`).",
		"the person who asked (webhook)", "`webhook:ID`",
		[]string{"deliveries"}},
	{ReleaseChanged,
		"A plugin's release in an environment changed: released into the first environment on certification, promoted, its rollout grown, paused, resumed, halted by the health threshold, aborted, or rolled back. Reason says why; the change is also a transparency-log entry (`release.changed`).",
		"the steward or publisher who asked, or `system` (release on certification, the health halt)", "`plugin:NS/NAME`",
		[]string{"plugin", "environment", "action", "version", "rollout", "previous", "rule"}},
	{ReleaseApproved,
		"A steward approved a version for an environment, which the policy may require before promotion.",
		"the steward (app)", "`submission:ID`",
		[]string{"plugin", "environment", "version"}},
	{PluginKilled,
		"The kill switch: a plugin is named in every environment's status feed, and hosts stop running it at their next sync. Reason is the one hosts read; also logged (`plugin.killed`).",
		"the steward (app)", "`plugin:NS/NAME`",
		[]string{"plugin"}},
	{StatusFeedPublished,
		"An environment's signed status feed was published. Reason gives its sequence, entry counts and next update; also logged (`status-feed.published`).",
		"the actor of the change that made it, or `system` for the periodic re-publish (app)", "`status:ENV`", nil},
	{WebhookDeliveryDead,
		"A webhook delivery was given up after its last attempt and kept as a dead letter. Reason gives the last error.",
		"`system` (webhook)", "`webhook:ID`",
		[]string{"delivery", "event", "type", "attempts"}},
}

// personal declares, per action, where an event names people besides
// its Actor and a `token:` Subject: a Reason written by a person or
// naming one, and the Data keys that name a person or hold a person's
// text. Retention pseudonymises those fields (PersonalFields). Every
// action of the catalogue was checked, the ones absent here name people
// only in Actor and Subject; docs/audit-events.md lists the result for
// each. A new action that names a person in Reason or Data is declared
// here, or its names outlive the retention.
var personal = map[string]Personal{
	SubmissionSignature:           {Reason: true}, // a keyless identity is an email address
	SubmissionVet:                 {Data: []string{"why"}},
	SubmissionTransition:          {Reason: true},
	ReviewApprove:                 {Reason: true},
	ReviewEscalate:                {Data: []string{"claimedBy"}},
	FindingTruePositive:           {Reason: true},
	FindingFalsePositive:          {Reason: true},
	CertificateIssued:             {Reason: true}, // "approved by" the reviewers
	CertificateRenewed:            {Reason: true},
	VersionSuspended:              {Reason: true},
	VersionRevoked:                {Reason: true},
	NamespaceSignatureRequirement: {Reason: true},
	PublisherKeyAdded:             {Reason: true}, // a keyless identity is an email address
	PublisherKeyCompromised:       {Reason: true},
	NamespaceOwnerTransfer:        {Reason: true, Data: []string{"from", "to", "revokedTokens"}},
	AutoApprovalOn:                {Reason: true},
	AutoApprovalOff:               {Reason: true},
	RevalidationPassed:            {Reason: true},
	RevalidationFailed:            {Reason: true, Data: []string{"why"}},
	RevalidationReviewed:          {Reason: true},
	HealthAlert:                   {Reason: true, Data: []string{"host", "hosts"}},
	HealthConfirmed:               {Reason: true, Data: []string{"hosts"}},
	HealthQuorum:                  {Reason: true, Data: []string{"hosts", "stewards", "reason"}},
	IncidentOpened:                {Reason: true, Data: []string{"title"}},
	IncidentNote:                  {Reason: true},
	IncidentNotice:                {Reason: true, Data: []string{"title", "message"}},
	IncidentRuleAdded:             {Reason: true},
	TokenCreate:                   {Data: []string{"subject"}},
	WebhookCreate:                 {Data: []string{"url"}}, // a receiver's host can be a person's domain
	WebhookDisable:                {Reason: true},
	WebhookDeliveryDead:           {Reason: true}, // the last error quotes the receiver's URL
	ReleaseChanged:                {Reason: true},
	ReleaseApproved:               {Reason: true},
	PluginKilled:                  {Reason: true},
}

// namesNobodyElse are the actions checked and found to name people only
// in Actor and a `token:` Subject: their reasons are generated and their
// data holds no one's name. With personal, it covers the catalogue
// (TestEveryActionCheckedForPeople), so a new action is classified when
// it is declared.
var namesNobodyElse = []string{
	SubmissionCreate,
	SubmissionResume,
	TriageVerdict,
	ReviewOpen,
	ReviewClaim,
	ReviewMessage,
	VulnDBImport,
	RevocationListPublished,
	TrustEvent,
	NamespaceClaim,
	PublisherKeyRemoved,
	PolicyApply,
	RevalidationErrored,
	RevalidationSuperseded,
	HostAPIOffered,
	HostAPIIncompatible,
	HostAPIPublished,
	HostAPISunsetNotice,
	AuditPseudonymise,
	TokenPurge,
	RecordsPurge,
	PersonalDataRetentionSet,
	IncidentVersionsAdded,
	IncidentHunted,
	IncidentContain,
	IncidentContained,
	IncidentRemediated,
	IncidentClosed,
	HuntRuleDisable,
	TokenRevoke,
	WebSignin,
	WebSigninRefused,
	StatusFeedPublished,
	WebhookDeliveryReplay,
}

// Personal is what an action's events may say about people beyond Actor
// and Subject.
type Personal struct {
	Reason bool     // Reason is a person's text, or names people
	Data   []string // keys of Data that name people or hold a person's text
}

// PersonalFields says which fields of e retention pseudonymises besides
// its Actor: a `token:` Subject; the Reason when the action declares it
// personal or it contains the actor in clear; the whole Data when one of
// the action's personal keys is set, or it contains the actor in clear.
// The containment checks catch a name the declarations missed; they
// cannot catch a third person's name in undeclared free text.
func PersonalFields(e Event) Fields {
	p := personal[e.Action]
	f := Fields{Subject: PersonalSubject(e.Subject), Reason: p.Reason}
	named := func(s string) bool {
		return e.Actor != "system" && len(e.Actor) >= 3 && !strings.HasPrefix(e.Actor, PseudonymPrefix) && strings.Contains(s, e.Actor)
	}
	if e.Reason != "" && named(e.Reason) {
		f.Reason = true
	}
	if len(e.Data) > 0 {
		if named(string(e.Data)) {
			f.Data = true
		}
		var m map[string]json.RawMessage
		if len(p.Data) > 0 && json.Unmarshal(e.Data, &m) == nil {
			for _, k := range p.Data {
				if v, ok := m[k]; ok && !emptyJSON(v) {
					f.Data = true
				}
			}
		}
	}
	return f
}

func emptyJSON(v json.RawMessage) bool {
	switch strings.TrimSpace(string(v)) {
	case "", "null", `""`, "[]", "{}":
		return true
	}
	return false
}

// PersonalOf returns what the action declares about people beyond Actor
// and Subject.
func PersonalOf(action string) Personal {
	p := personal[action]
	p.Data = slices.Clone(p.Data)
	return p
}

// Catalogue returns every declared action, in the order the documentation
// lists them. The slice is the caller's own.
func Catalogue() []Entry {
	out := slices.Clone(catalogue)
	for i := range out {
		out[i].Data = slices.Clone(out[i].Data)
	}
	return out
}

// Lookup returns the entry that declares action.
func Lookup(action string) (Entry, bool) {
	i := index(action)
	if i < 0 {
		return Entry{}, false
	}
	e := catalogue[i]
	e.Data = slices.Clone(e.Data)
	return e, true
}

// ErrUndeclared is wrapped by CheckAction's error.
var ErrUndeclared = errors.New("undeclared audit action")

// CheckAction returns an error wrapping ErrUndeclared when action is not in
// the catalogue. Stores call it before they append an event, so no event
// enters the trail without a meaning an auditor can look up.
func CheckAction(action string) error {
	if index(action) < 0 {
		return fmt.Errorf("audit action %q is not declared in internal/audit's catalogue; declare it there: %w", action, ErrUndeclared)
	}
	return nil
}

func index(action string) int {
	return slices.IndexFunc(catalogue, func(e Entry) bool { return e.Action == action })
}
