package policy

import (
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// ApprovalResult is a finding's approval and where it came from.
type ApprovalResult struct {
	State patch.Approval `json:"state"`
	// Source is "manual" (a person's decision), "rule" (an auto-approval
	// rule) or "" (pending).
	Source string `json:"source,omitempty"`
	// Rule names the auto-approval rule that approved, or will approve.
	Rule string `json:"rule,omitempty"`
	// At is when the approval took effect, or, for a pending finding that
	// a rule will approve, when it will.
	At time.Time `json:"at,omitzero"`
	// Decision is the person's decision, if any.
	Decision *patch.UpdateDecision `json:"decision,omitempty"`
	// ManualOnly is true when the SLA cell takes no auto-approval.
	ManualOnly bool `json:"manual_only,omitempty"`
}

// ApprovalBase is when an update's auto-approval delay starts: its
// release date, or when agents first reported it if the release is
// unknown.
func ApprovalBase(u *patch.Update) time.Time {
	if !u.ReleaseDate.IsZero() {
		return u.ReleaseDate
	}
	return u.FirstSeen
}

// RuleMatches reports whether an auto-approval rule takes an update of a
// tier.
func RuleMatches(r patch.ApprovalRule, tier string, u *patch.Update) bool {
	if len(r.Classifications) > 0 && !slices.Contains(r.Classifications, u.Classification) {
		return false
	}
	if len(r.Tiers) > 0 && !slices.Contains(r.Tiers, tier) {
		return false
	}
	if len(r.Sources) > 0 && !slices.Contains(r.Sources, string(u.Source)) {
		return false
	}
	if len(r.Products) > 0 && !slices.ContainsFunc(r.Products, func(p string) bool { return strings.EqualFold(p, strings.TrimSpace(u.Product)) }) {
		return false
	}
	return true
}

// Approve decides a finding's approval: a person's decision wins; an SLA
// cell with manual approval takes no rule; otherwise the matching rule
// that approves earliest approves once its delay has passed.
func Approve(p *patch.Policy, cell patch.SLACell, tier string, u *patch.Update, d *patch.UpdateDecision, now time.Time) ApprovalResult {
	if d != nil {
		return ApprovalResult{State: d.Decision, Source: "manual", At: d.DecidedAt, Decision: d}
	}
	if cell.ManualApproval {
		return ApprovalResult{State: patch.ApprovalPending, ManualOnly: true}
	}
	res := ApprovalResult{State: patch.ApprovalPending}
	base := ApprovalBase(u)
	for _, r := range p.Approval.Rules {
		if !RuleMatches(r, tier, u) {
			continue
		}
		at := base.AddDate(0, 0, r.AfterDays)
		if res.Rule == "" || at.Before(res.At) {
			res.Rule, res.At = r.Name, at
		}
	}
	if res.Rule != "" && !now.Before(res.At) {
		res.State, res.Source = patch.ApprovalApproved, "rule"
	}
	return res
}
