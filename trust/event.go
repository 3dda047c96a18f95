package trust

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// EventKind names a trust event recorded in the transparency log.
type EventKind string

// The trust events. Every change of trust is logged as one of these.
const (
	EventCertificateIssued  EventKind = "certificate.issued"
	EventCertificateRenewed EventKind = "certificate.renewed"
	EventVersionSuspended   EventKind = "version.suspended"
	EventVersionRevoked     EventKind = "version.revoked"
	EventPublisherKeyAdded  EventKind = "publisher-key.added"
	EventPublisherKeyRemove EventKind = "publisher-key.removed"
	// EventPublisherKeyCompromised: the key was reported stolen; unlike a
	// removed key's, its past signatures are no longer trusted.
	EventPublisherKeyCompromised EventKind = "publisher-key.compromised"
	EventNamespaceOwner          EventKind = "namespace.owner-changed"
	EventPolicyApplied           EventKind = "policy.applied"
	EventRevocationList          EventKind = "revocation-list.published"
	// Releases (issue 18): a release changed in an environment (promoted,
	// grown, paused, resumed, halted, aborted, rolled back; Detail says
	// which), a plugin was killed everywhere, a status feed was signed.
	EventReleaseChanged EventKind = "release.changed"
	EventPluginKilled   EventKind = "plugin.killed"
	EventStatusFeed     EventKind = "status-feed.published"
)

var eventKinds = map[EventKind]bool{
	EventCertificateIssued: true, EventCertificateRenewed: true, EventVersionSuspended: true,
	EventVersionRevoked: true, EventPublisherKeyAdded: true, EventPublisherKeyRemove: true, EventPublisherKeyCompromised: true,
	EventNamespaceOwner: true, EventPolicyApplied: true, EventRevocationList: true,
	EventReleaseChanged: true, EventPluginKilled: true, EventStatusFeed: true,
}

// MaxEventBytes bounds an encoded event. The log's entry bundles store
// lengths in two bytes, so no entry may exceed 65535 bytes.
const MaxEventBytes = 16 << 10

// Event is one entry of the transparency log. It names what changed and
// carries the digest of the signed document that says so, which travels
// separately (a certificate in its bundle, a revocation list at its URL):
// entries stay small, and anyone holding the document can check it is the
// one that was logged.
type Event struct {
	Kind EventKind `json:"kind"`
	Time time.Time `json:"time"`
	// Subject is what the event is about: "namespace/name@version" for a
	// version, a namespace, a key id, or a policy name.
	Subject string `json:"subject"`
	// Digest is the package digest, for events about a version.
	Digest string `json:"digest,omitempty"`
	// Document is PayloadDigest of the signed document (certificate,
	// revocation list) this event publishes, if any.
	Document string `json:"document,omitempty"`
	// Detail is free text: a revocation reason, the new owner, a key id.
	Detail string `json:"detail,omitempty"`
}

// MarshalEvent encodes an event as a log entry (compact JSON, fields in a
// fixed order).
func MarshalEvent(e Event) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding event: %w", err)
	}
	if len(b) > MaxEventBytes {
		return nil, fmt.Errorf("trust: event is %d bytes; the limit is %d", len(b), MaxEventBytes)
	}
	return b, nil
}

// ParseEvent decodes a log entry.
func ParseEvent(b []byte) (Event, error) {
	if len(b) > MaxEventBytes {
		return Event{}, fmt.Errorf("%w: log entry is %d bytes; the limit is %d", ErrMalformed, len(b), MaxEventBytes)
	}
	var e Event
	if err := decodeStrict(b, &e); err != nil {
		return Event{}, fmt.Errorf("%w: log entry: %v", ErrMalformed, err)
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func (e Event) validate() error {
	if !eventKinds[e.Kind] {
		return fmt.Errorf("%w: unknown event kind %q", ErrMalformed, e.Kind)
	}
	if e.Time.IsZero() || e.Subject == "" {
		return fmt.Errorf("%w: event %s needs a time and a subject", ErrMalformed, e.Kind)
	}
	if e.Digest != "" && !ValidDigest(e.Digest) {
		return fmt.Errorf("%w: event %s: digest %q is malformed", ErrMalformed, e.Kind, e.Digest)
	}
	if e.Document != "" && !ValidDigest(e.Document) {
		return fmt.Errorf("%w: event %s: document digest %q is malformed", ErrMalformed, e.Kind, e.Document)
	}
	return nil
}

// CertificateEvent returns the log entry that publishes a certificate
// envelope (kind is EventCertificateIssued or EventCertificateRenewed).
func CertificateEvent(kind EventKind, env *dsse.Envelope) (Event, error) {
	if kind != EventCertificateIssued && kind != EventCertificateRenewed {
		return Event{}, fmt.Errorf("trust: %s is not a certificate event", kind)
	}
	c, err := ParseCertificate(env)
	if err != nil {
		return Event{}, err
	}
	doc, err := PayloadDigest(env)
	if err != nil {
		return Event{}, err
	}
	return Event{Kind: kind, Time: c.IssuedAt, Subject: SubjectName(c.PluginID, c.Version), Digest: c.Digest, Document: doc}, nil
}

// CheckCertificateEntry checks that a log entry publishes exactly this
// certificate envelope: a certificate event whose document digest is the
// envelope's payload digest and whose subject and digest are the
// certificate's.
func CheckCertificateEntry(entry []byte, env *dsse.Envelope, c *Certificate) error {
	e, err := ParseEvent(entry)
	if err != nil {
		return err
	}
	if e.Kind != EventCertificateIssued && e.Kind != EventCertificateRenewed {
		return fmt.Errorf("%w: the log entry is a %s event, not a certificate", ErrWrongSubject, e.Kind)
	}
	doc, err := PayloadDigest(env)
	if err != nil {
		return err
	}
	if e.Document != doc {
		return fmt.Errorf("%w: the log entry publishes certificate %s, this certificate is %s", ErrWrongDigest, e.Document, doc)
	}
	if e.Digest != c.Digest || e.Subject != SubjectName(c.PluginID, c.Version) {
		return fmt.Errorf("%w: the log entry is about %s (%s), the certificate about %s (%s)", ErrWrongSubject, e.Subject, e.Digest, SubjectName(c.PluginID, c.Version), c.Digest)
	}
	return nil
}

// RevocationListEvent returns the log entry that publishes a signed
// revocation list.
func RevocationListEvent(env *dsse.Envelope) (Event, error) {
	if env == nil || env.PayloadType != PayloadTypeRevocations {
		return Event{}, fmt.Errorf("%w: not a revocation list envelope", ErrMalformed)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return Event{}, fmt.Errorf("%w: payload is not base64", ErrMalformed)
	}
	var l RevocationList
	if err := decodeStrict(payload, &l); err != nil {
		return Event{}, fmt.Errorf("%w: revocation list: %v", ErrMalformed, err)
	}
	doc, _ := PayloadDigest(env)
	return Event{Kind: EventRevocationList, Time: l.IssuedAt, Subject: fmt.Sprintf("revocations/%d", l.Number), Document: doc,
		Detail: fmt.Sprintf("%d entries", len(l.Entries))}, nil
}
