package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// Releases (issue 18). The same policy that triages versions decides
// whether a version moves on to the next environment
// (data.gatehouse.promotion) and whether a rollout in progress halts
// (data.gatehouse.rollout_health). A policy that defines neither refuses
// every promotion and halts no rollout: deny by default.

// Refs of the release decisions.
const (
	PromotionRef     = "data.gatehouse.promotion"
	RolloutHealthRef = "data.gatehouse.rollout_health"
)

// HostHealthFacts are the health reports one host sent about a version in
// one environment, summed.
type HostHealthFacts struct {
	Host         string `json:"host"`
	Calls        int64  `json:"calls"`
	Errors       int64  `json:"errors"`
	BreakerTrips int64  `json:"breaker_trips"`
}

// HealthFacts are the reports of every host of one environment about one
// version: the totals and each host's.
type HealthFacts struct {
	Reports      int               `json:"reports"`
	Calls        int64             `json:"calls"`
	Errors       int64             `json:"errors"`
	ErrorRate    float64           `json:"error_rate"`
	BreakerTrips int64             `json:"breaker_trips"`
	Hosts        []HostHealthFacts `json:"hosts"`
}

// NewHealthFacts sums per-host facts.
func NewHealthFacts(reports int, hosts []HostHealthFacts) HealthFacts {
	h := HealthFacts{Reports: reports, Hosts: hosts}
	if h.Hosts == nil {
		h.Hosts = []HostHealthFacts{}
	}
	for _, x := range hosts {
		h.Calls += x.Calls
		h.Errors += x.Errors
		h.BreakerTrips += x.BreakerTrips
	}
	if h.Calls > 0 {
		h.ErrorRate = finiteRate(float64(h.Errors) / float64(h.Calls))
	}
	return h
}

// PromotionInput is what the marketplace knows when a version is to move
// into an environment: input of data.gatehouse.promotion.
type PromotionInput struct {
	Plugin struct {
		ID       string `json:"id"`
		Version  string `json:"version"`
		RiskTier string `json:"risk_tier"`
	} `json:"plugin"`
	// From is the environment before To ("" when To is the first); Last
	// says To is the last environment (production).
	From    string `json:"from"`
	To      string `json:"to"`
	ToIndex int    `json:"to_index"`
	Last    bool   `json:"last"`
	// Rollout is the percentage asked for.
	Rollout int `json:"rollout"`
	// Previous is the version's release in From.
	Previous struct {
		Present    bool    `json:"present"`
		SinceHours float64 `json:"since_hours"`
		Rollout    int     `json:"rollout"`
		Status     string  `json:"status"`
	} `json:"previous"`
	// Health is what From's hosts reported about the version since it
	// entered From.
	Health HealthFacts `json:"health"`
	// Approvals are the stewards who approved the version for To.
	Approvals     []string `json:"approvals"`
	OpenIncidents int      `json:"open_incidents"`
}

// PromotionRefusal is one rule that refused a promotion.
type PromotionRefusal struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// PromotionDecision is data.gatehouse.promotion.
type PromotionDecision struct {
	Allow bool               `json:"allow"`
	Deny  []PromotionRefusal `json:"deny"`
}

// RolloutInput is what the hosts running a rollout's new version
// reported: input of data.gatehouse.rollout_health.
type RolloutInput struct {
	Plugin      string      `json:"plugin"`
	Version     string      `json:"version"`
	Environment string      `json:"environment"`
	Rollout     int         `json:"rollout"`
	Health      HealthFacts `json:"health"`
}

// RolloutHealth is data.gatehouse.rollout_health.
type RolloutHealth struct {
	Halt    bool               `json:"halt"`
	Reasons []PromotionRefusal `json:"reasons"`
}

// releaseQueries are the prepared release decisions of an Engine; nil
// when the policy does not define them.
type releaseQueries struct {
	promotion, rollout *rego.PreparedEvalQuery
}

func prepareReleaseQueries(ctx context.Context, c *ast.Compiler) (releaseQueries, error) {
	var q releaseQueries
	for ref, dst := range map[string]**rego.PreparedEvalQuery{PromotionRef: &q.promotion, RolloutHealthRef: &q.rollout} {
		if len(c.GetRulesExact(ast.MustParseRef(ref))) == 0 {
			continue
		}
		pq, err := rego.New(rego.Compiler(c), rego.Store(inmem.New()), rego.Query(ref), rego.StrictBuiltinErrors(true)).PrepareForEval(ctx)
		if err != nil {
			return q, fmt.Errorf("preparing %s: %w", ref, err)
		}
		*dst = &pq
	}
	return q, nil
}

// DecidePromotion evaluates data.gatehouse.promotion. A policy without the
// rule, or whose rule is undefined for this input, refuses the promotion
// with a refusal saying so.
func (e *Engine) DecidePromotion(ctx context.Context, in PromotionInput) (PromotionDecision, error) {
	if in.Approvals == nil {
		in.Approvals = []string{}
	}
	if in.Health.Hosts == nil {
		in.Health.Hosts = []HostHealthFacts{}
	}
	var d PromotionDecision
	ok, err := e.evalRelease(ctx, e.release.promotion, PromotionRef, in, &d)
	if err != nil {
		return d, err
	}
	if !ok {
		return PromotionDecision{Deny: []PromotionRefusal{{Rule: "no-promotion-rule", Message: fmt.Sprintf("policy %s defines no %s for this input; promotion is refused until it does", short(e.policy.Digest), PromotionRef)}}}, nil
	}
	if d.Allow && len(d.Deny) > 0 {
		return d, fmt.Errorf("policy %s: %s allows the promotion and refuses it (%d rules); it must do one", short(e.policy.Digest), PromotionRef, len(d.Deny))
	}
	if !d.Allow && len(d.Deny) == 0 {
		d.Deny = []PromotionRefusal{{Rule: "not-allowed", Message: "the policy does not allow this promotion and names no rule"}}
	}
	return d, nil
}

// DecideRolloutHealth evaluates data.gatehouse.rollout_health; a policy
// without it never halts a rollout (people still can).
func (e *Engine) DecideRolloutHealth(ctx context.Context, in RolloutInput) (RolloutHealth, error) {
	if in.Health.Hosts == nil {
		in.Health.Hosts = []HostHealthFacts{}
	}
	var h RolloutHealth
	ok, err := e.evalRelease(ctx, e.release.rollout, RolloutHealthRef, in, &h)
	if err != nil || !ok {
		return RolloutHealth{}, err
	}
	if h.Halt && len(h.Reasons) == 0 {
		h.Reasons = []PromotionRefusal{{Rule: "rollout-health", Message: "the policy halts the rollout and names no rule"}}
	}
	return h, nil
}

func (e *Engine) evalRelease(ctx context.Context, q *rego.PreparedEvalQuery, ref string, in, out any) (bool, error) {
	if q == nil {
		return false, nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return false, fmt.Errorf("encoding the input of %s: %w", ref, err)
	}
	var input any
	if err := json.Unmarshal(b, &input); err != nil {
		return false, err
	}
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return false, fmt.Errorf("policy %s: evaluating %s: %w", short(e.policy.Digest), ref, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return false, nil
	}
	raw, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, fmt.Errorf("policy %s: %s does not have the documented shape: %w", short(e.policy.Digest), ref, err)
	}
	return true, nil
}

// finiteRate keeps NaN and infinities out of policy input.
func finiteRate(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
