package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// HealthQuorumRef is the rule that decides whether hosts' failing health
// reports suspend a version everywhere. A policy may leave it out; then
// FallbackQuorum applies, so an older custom policy keeps working and one
// host still cannot suspend a plugin.
const HealthQuorumRef = "data.gatehouse.health_quorum"

var healthQuorumRef = ast.MustParseRef(HealthQuorumRef)

// Vote kinds.
const (
	VoteHost    = "host"
	VoteSteward = "steward"
)

// Limits on a quorum, so a broken policy can neither suspend on one host's
// word by accident of a huge window nor ask for more hosts than a
// marketplace ever tracks per version.
const (
	// MaxQuorumHosts is the largest host quorum a policy may ask for.
	MaxQuorumHosts = 100
	// MaxQuorumStewards is the largest number of steward confirmations.
	MaxQuorumStewards = 10
	// MaxQuorumWindow is the longest window votes count in; the store is
	// read this far back.
	MaxQuorumWindow = 7 * 24 * time.Hour
	// MaxQuorumVotes bounds the votes one decision is asked about.
	MaxQuorumVotes = 10_000
)

// QuorumVote is one voter's standing against a version: a host whose
// reports judged it failing, or a steward who confirmed them. A voter has
// one vote however often it reported.
type QuorumVote struct {
	Voter string `json:"voter"`
	Kind  string `json:"kind"` // VoteHost or VoteSteward
	// AgeSeconds is how long ago the voter's last failing report (or
	// confirmation) came in.
	AgeSeconds int64 `json:"age_seconds"`
}

// QuorumInput is the input of data.gatehouse.health_quorum.
type QuorumInput struct {
	Votes []QuorumVote `json:"votes"`
}

// QuorumDecision is the value of data.gatehouse.health_quorum.
type QuorumDecision struct {
	Suspend bool `json:"suspend"`
	// Hosts and Stewards are the distinct voters that counted (within the
	// window), sorted.
	Hosts            []string `json:"hosts"`
	Stewards         []string `json:"stewards"`
	RequiredHosts    int      `json:"required_hosts"`
	RequiredStewards int      `json:"required_stewards"`
	WindowHours      int      `json:"window_hours"`
	Reason           string   `json:"reason"`
}

// Window is how far back votes count.
func (q QuorumDecision) Window() time.Duration { return time.Duration(q.WindowHours) * time.Hour }

// FallbackQuorum is the quorum of a policy that defines no health_quorum:
// the default policy's settings.
var FallbackQuorum = QuorumDecision{RequiredHosts: 3, RequiredStewards: 1, WindowHours: 24}

func (in QuorumInput) validate() error {
	if len(in.Votes) > MaxQuorumVotes {
		return fmt.Errorf("%d votes on one version; at most %d are weighed", len(in.Votes), MaxQuorumVotes)
	}
	for _, v := range in.Votes {
		if v.Voter == "" || (v.Kind != VoteHost && v.Kind != VoteSteward) || v.AgeSeconds < 0 {
			return fmt.Errorf("a quorum vote needs a voter, a kind (host or steward) and an age of 0 or more seconds; got %q %q %d", v.Voter, v.Kind, v.AgeSeconds)
		}
	}
	return nil
}

// check refuses quorum decisions a sound policy does not produce; above
// all one that lets a single host suspend a version.
func (q *QuorumDecision) check(in QuorumInput) error {
	if q.RequiredHosts < 2 || q.RequiredHosts > MaxQuorumHosts {
		return fmt.Errorf("the policy's health quorum is %d host(s); it must be 2 to %d, so one host cannot suspend a plugin everywhere", q.RequiredHosts, MaxQuorumHosts)
	}
	if q.RequiredStewards < 1 || q.RequiredStewards > MaxQuorumStewards {
		return fmt.Errorf("the policy asks for %d steward confirmation(s); it must be 1 to %d", q.RequiredStewards, MaxQuorumStewards)
	}
	if q.WindowHours < 1 || q.Window() > MaxQuorumWindow {
		return fmt.Errorf("the policy's health quorum window is %d hours; it must be 1 to %d", q.WindowHours, int(MaxQuorumWindow/time.Hour))
	}
	voters := make(map[string]string, len(in.Votes))
	for _, v := range in.Votes {
		voters[v.Kind+"\x00"+v.Voter] = v.Voter
	}
	for _, h := range q.Hosts {
		if _, ok := voters[VoteHost+"\x00"+h]; !ok {
			return fmt.Errorf("the policy's health quorum names host %q, which cast no vote", h)
		}
	}
	for _, s := range q.Stewards {
		if _, ok := voters[VoteSteward+"\x00"+s]; !ok {
			return fmt.Errorf("the policy's health quorum names steward %q, who confirmed nothing", s)
		}
	}
	// Whatever the policy says, a suspension needs at least one host's
	// report: a steward without one suspends through the suspend action.
	if q.Suspend && len(q.Hosts) == 0 {
		return fmt.Errorf("the policy's health quorum suspends with no host report counted")
	}
	return nil
}

// fallbackQuorum decides with FallbackQuorum's settings, for a policy
// without a health_quorum rule. It mirrors the default policy's rule.
func fallbackQuorum(in QuorumInput) QuorumDecision {
	q := FallbackQuorum
	window := int64(q.Window() / time.Second)
	hosts, stewards := map[string]bool{}, map[string]bool{}
	for _, v := range in.Votes {
		if v.AgeSeconds > window {
			continue
		}
		if v.Kind == VoteHost {
			hosts[v.Voter] = true
		} else {
			stewards[v.Voter] = true
		}
	}
	for h := range hosts {
		q.Hosts = append(q.Hosts, h)
	}
	for s := range stewards {
		q.Stewards = append(q.Stewards, s)
	}
	slices.Sort(q.Hosts)
	slices.Sort(q.Stewards)
	q.Suspend = len(q.Hosts) >= q.RequiredHosts || (len(q.Hosts) >= 1 && len(q.Stewards) >= q.RequiredStewards)
	q.Reason = fmt.Sprintf("%d of %d host(s) and %d of %d steward confirmation(s) within %d hours (the built-in quorum: the policy defines no health_quorum)",
		len(q.Hosts), q.RequiredHosts, len(q.Stewards), q.RequiredStewards, q.WindowHours)
	return q
}

// prepareQuorum prepares the health_quorum query of a compiled policy, or
// returns nil when the policy does not define it.
func prepareQuorum(ctx context.Context, c *ast.Compiler) (*rego.PreparedEvalQuery, error) {
	if len(c.GetRulesExact(healthQuorumRef)) == 0 {
		return nil, nil
	}
	q, err := rego.New(
		rego.Compiler(c),
		rego.Store(inmem.New()),
		rego.Query(HealthQuorumRef),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		if ce := compileErrors(err); ce != nil {
			return nil, ce
		}
		return nil, fmt.Errorf("preparing the policy's health quorum query: %w", err)
	}
	return &q, nil
}

// HealthQuorum decides whether the votes against one version suspend it.
// An undefined or out-of-range answer is an error, never a suspension.
func (e *Engine) HealthQuorum(ctx context.Context, in QuorumInput) (QuorumDecision, error) {
	if err := in.validate(); err != nil {
		return QuorumDecision{}, err
	}
	if in.Votes == nil {
		in.Votes = []QuorumVote{}
	}
	if e.quorum == nil {
		return fallbackQuorum(in), nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return QuorumDecision{}, fmt.Errorf("encoding the quorum input: %w", err)
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return QuorumDecision{}, fmt.Errorf("encoding the quorum input: %w", err)
	}
	rs, err := e.quorum.Eval(ctx, rego.EvalInput(raw))
	if err != nil {
		return QuorumDecision{}, fmt.Errorf("policy %s: evaluating the health quorum: %w", short(e.policy.Digest), err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return QuorumDecision{}, fmt.Errorf("policy %s made no health quorum decision: %s is undefined for this input", short(e.policy.Digest), HealthQuorumRef)
	}
	out, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return QuorumDecision{}, fmt.Errorf("encoding the health quorum decision: %w", err)
	}
	var q QuorumDecision
	if err := json.Unmarshal(out, &q); err != nil {
		return QuorumDecision{}, fmt.Errorf("policy %s: the health quorum decision does not have the shape policy.QuorumDecision documents: %w", short(e.policy.Digest), err)
	}
	if err := q.check(in); err != nil {
		return QuorumDecision{}, fmt.Errorf("policy %s: %w", short(e.policy.Digest), err)
	}
	return q, nil
}

// QuorumSettings returns the quorum's settings (required hosts and
// stewards, window) without votes: what a reader of the store needs to
// know how far back to look.
func (e *Engine) QuorumSettings(ctx context.Context) (QuorumDecision, error) {
	return e.HealthQuorum(ctx, QuorumInput{})
}
