package policy

import "github.com/open-policy-agent/opa/v1/ast"

// value builds the Rego value of an input directly, field for field as its
// JSON encoding (TestInputValueMatchesJSON keeps the two in step). Going
// through encoding/json and OPA's JSON reader instead costs a tenth of a
// decision. Empty lists become [], never null, so `count(input.findings)` is
// 0 rather than an error.
func (in *Input) value() ast.Value {
	return obj(
		kv("plugin", ast.NewTerm(obj(
			kv("id", str(in.Plugin.ID)),
			kv("namespace", str(in.Plugin.Namespace)),
			kv("version", str(in.Plugin.Version)),
			kv("first_version", ast.BooleanTerm(in.Plugin.FirstVersion)),
			kv("previous_version", str(in.Plugin.PreviousVersion)),
		))),
		kv("permissions", list(in.Permissions, func(p Permission) *ast.Term {
			return ast.NewTerm(obj(kv("kind", str(p.Kind)), kv("scope", str(p.Scope))))
		})),
		kv("data", ast.NewTerm(obj(
			kv("categories", strs(in.Data.Categories)),
			kv("leaves_platform", ast.BooleanTerm(in.Data.LeavesPlatform)),
		))),
		kv("flows", list(in.Flows, func(f Flow) *ast.Term {
			return ast.NewTerm(obj(
				kv("id", str(f.ID)),
				kv("category", str(f.Category)),
				kv("destination", str(f.Destination)),
				kv("purpose", str(f.Purpose)),
				kv("retention", str(f.Retention)),
				kv("retention_days", ast.IntNumberTerm(int(f.RetentionDays))),
				kv("retention_pointer", str(f.RetentionPointer)),
			))
		})),
		kv("license", ast.NewTerm(obj(
			kv("expression", str(in.License.Expression)),
			kv("choices", list(in.License.Choices, strs)),
		))),
		kv("host_api", str(in.HostAPI)),
		kv("findings", list(in.Findings, func(f Finding) *ast.Term {
			return ast.NewTerm(obj(
				kv("analyzer", str(f.Analyzer)),
				kv("rule_id", str(f.RuleID)),
				kv("severity", str(f.Severity)),
				kv("suppressed", ast.BooleanTerm(f.Suppressed)),
				kv("enforced", ast.BooleanTerm(f.Enforced)),
			))
		})),
		kv("checks", list(in.Checks, func(c Check) *ast.Term {
			return ast.NewTerm(obj(
				kv("analyzer", str(c.Analyzer)),
				kv("status", str(c.Status)),
				kv("required", ast.BooleanTerm(c.Required)),
				kv("enforced", ast.BooleanTerm(c.Enforced)),
				kv("blocking", ast.BooleanTerm(c.Blocking)),
			))
		})),
		kv("diff", diffTerm(in.Diff)),
		kv("publisher", ast.NewTerm(obj(
			kv("in_good_standing", ast.BooleanTerm(in.Publisher.InGoodStanding)),
			kv("account_age_days", ast.IntNumberTerm(in.Publisher.AccountAgeDays)),
			kv("ownership_changed_days_ago", optInt(in.Publisher.OwnershipChangedDaysAgo)),
			kv("key_changed_days_ago", optInt(in.Publisher.KeyChangedDaysAgo)),
			kv("prior_rejections", ast.IntNumberTerm(in.Publisher.PriorRejections)),
		))),
		kv("auto_approval_off", ast.NewTerm(obj(
			kv("plugin", ast.BooleanTerm(in.AutoApprovalOff.Plugin)),
			kv("namespace", ast.BooleanTerm(in.AutoApprovalOff.Namespace)),
		))),
		kv("host_error_rate", ast.FloatNumberTerm(in.HostErrorRate)),
		kv("provenance", ast.NewTerm(obj(
			kv("present", ast.BooleanTerm(in.Provenance.Present)),
			kv("verified", ast.BooleanTerm(in.Provenance.Verified)),
			kv("builder", str(in.Provenance.Builder)),
			kv("build_type", str(in.Provenance.BuildType)),
			kv("source_repository", str(in.Provenance.SourceRepository)),
			kv("reproducible", ast.BooleanTerm(in.Provenance.Reproducible)),
		))),
		kv("weight", ast.NewTerm(obj(
			kv("total", ast.IntNumberTerm(in.Weight.Total)),
			kv("factors", list(in.Weight.Factors, func(f Factor) *ast.Term {
				return ast.NewTerm(obj(
					kv("name", str(f.Name)),
					kv("value", ast.IntNumberTerm(f.Value)),
					kv("cap", ast.IntNumberTerm(f.Cap)),
					kv("reason", str(f.Reason)),
				))
			})),
		))),
	)
}

func diffTerm(d *Diff) *ast.Term {
	if d == nil {
		return ast.NullTerm()
	}
	return ast.NewTerm(obj(
		kv("permissions_added", strs(d.PermissionsAdded)),
		kv("permissions_removed", strs(d.PermissionsRemoved)),
		kv("origins_added", strs(d.OriginsAdded)),
		kv("data_categories_added", strs(d.DataCategoriesAdded)),
		kv("flows_added", strs(d.FlowsAdded)),
		kv("host_api_changed", ast.BooleanTerm(d.HostAPIChanged)),
		kv("previous_host_api", str(d.PreviousHostAPI)),
		kv("imports_added", strs(d.ImportsAdded)),
		kv("size_change_percent", ast.FloatNumberTerm(d.SizeChangePercent)),
		kv("files_changed", ast.IntNumberTerm(d.FilesChanged)),
	))
}

func obj(items ...[2]*ast.Term) ast.Object { return ast.NewObject(items...) }

func kv(k string, v *ast.Term) [2]*ast.Term { return ast.Item(ast.StringTerm(k), v) }

func str(s string) *ast.Term { return ast.StringTerm(s) }

func strs(ss []string) *ast.Term { return list(ss, str) }

func list[T any](xs []T, f func(T) *ast.Term) *ast.Term {
	a := make([]*ast.Term, len(xs))
	for i, x := range xs {
		a[i] = f(x)
	}
	return ast.ArrayTerm(a...)
}

func optInt(p *int) *ast.Term {
	if p == nil {
		return ast.NullTerm()
	}
	return ast.IntNumberTerm(*p)
}
