package server

import (
	"context"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// Daily snapshots. A day's snapshot is every rating at the day's end
// (midnight UTC), computed from the stored facts with the class each asset
// has when the snapshot is taken, and stored with the per-asset rows it
// came from. Taken by RunCompliance shortly after midnight, a snapshot
// describes the day exactly; taken later (a backfill), it is recomputed
// from facts that are kept for that purpose (scan times, resolution
// times, due times), with today's classes and exceptions, and says so in
// docs/compliance.md.

// SnapshotResult says what taking snapshots did.
type SnapshotResult struct {
	// Taken are the days snapshotted; Skipped those that had one already.
	Taken   []patch.Day `json:"taken"`
	Skipped []patch.Day `json:"skipped"`
}

// TakeSnapshots computes and stores the snapshots of the given days
// (each replaced whole). Only the MSP may take snapshots; days must be
// over.
func (s *Server) TakeSnapshots(ctx context.Context, days []patch.Day) (*SnapshotResult, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.All {
		return nil, patch.Errorf(patch.KindForbidden, "Only the MSP takes compliance snapshots.")
	}
	return s.takeSnapshots(ctx, days)
}

func (s *Server) takeSnapshots(ctx context.Context, days []patch.Day) (*SnapshotResult, error) {
	res := &SnapshotResult{Taken: []patch.Day{}, Skipped: []patch.Day{}}
	if len(days) == 0 {
		return res, nil
	}
	now := s.now()
	days = slices.Clone(days)
	slices.Sort(days)
	days = slices.Compact(days)
	for _, d := range days {
		if d.End().After(now) {
			return nil, patch.FieldError("day", "%s is not over yet: a day's snapshot is its rating at midnight UTC after it", d)
		}
	}
	sys := systemContext(ctx, "compliance")
	clients, err := s.clientsInScope(sys)
	if err != nil {
		return nil, err
	}
	o := s.copts().Rating
	// Each client's facts are read once, from the window of the first day
	// on, and rated at the end of every day.
	perDay := make([][]compliance.Summary, len(days))
	since := days[0].End().Add(-o.Window)
	for _, c := range clients {
		facts, err := s.st.ComplianceFacts.FindComplianceFacts(sys, patch.ComplianceFactFilter{ClientID: &c.ID, Since: since})
		if err != nil {
			return nil, err
		}
		for i, d := range days {
			at := d.End()
			for _, cf := range facts {
				if cf.Asset.FirstSeen.After(at) {
					continue // not known yet that day
				}
				perDay[i] = append(perDay[i], compliance.Summarize(ratingAsset(c, cf, at), at, o))
			}
		}
	}
	for i, d := range days {
		groups, assets := compliance.SnapshotRows(d, compliance.Rollup(perDay[i]), perDay[i], now)
		if err := s.st.Snapshots.SaveSnapshot(sys, d, groups, assets); err != nil {
			return nil, err
		}
		res.Taken = append(res.Taken, d)
	}
	return res, nil
}

// BackfillSnapshots snapshots the last n complete days (yesterday back),
// skipping days that have a snapshot unless replace is set. The demo uses
// it to draw a month of history from the findings it generated.
func (s *Server) BackfillSnapshots(ctx context.Context, n int, replace bool) (*SnapshotResult, error) {
	if n < 1 || n > 400 {
		return nil, patch.FieldError("days", "must be between 1 and 400")
	}
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.All {
		return nil, patch.Errorf(patch.KindForbidden, "Only the MSP takes compliance snapshots.")
	}
	return s.fillSnapshots(ctx, n, replace)
}

func (s *Server) fillSnapshots(ctx context.Context, n int, replace bool) (*SnapshotResult, error) {
	sys := systemContext(ctx, "compliance")
	today := patch.DayOf(s.now())
	from, to := today.Add(-n), today.Add(-1)
	have, err := s.st.Snapshots.SnapshotDays(sys, from, to)
	if err != nil {
		return nil, err
	}
	var todo, skipped []patch.Day
	for d := from; d <= to; d = d.Add(1) {
		if !replace && slices.Contains(have, d) {
			skipped = append(skipped, d)
			continue
		}
		todo = append(todo, d)
	}
	res, err := s.takeSnapshots(sys, todo)
	if err != nil {
		return nil, err
	}
	if skipped != nil {
		res.Skipped = skipped
	}
	return res, nil
}

// RunCompliance re-rates every asset, evaluates every monitor and takes
// the snapshots of the last days that have none, at once and then every
// Interval until ctx is done. It returns ctx's error. Several servers on
// one database may run it: a day taken twice is replaced whole, and a
// monitor saved concurrently is re-evaluated.
func (s *Server) RunCompliance(ctx context.Context) error {
	o := s.copts()
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		start := time.Now()
		if err := s.complianceRound(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "compliance round had errors", "err", err)
		}
		if res, err := s.fillSnapshots(ctx, o.CatchUpDays, false); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "compliance snapshots failed", "err", err)
		} else if err == nil && len(res.Taken) > 0 {
			s.logger.InfoContext(ctx, "compliance snapshots taken", "days", res.Taken)
		}
		s.logger.DebugContext(ctx, "compliance round", "took", time.Since(start))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// HistoryQuery selects a group's daily history.
type HistoryQuery struct {
	// ClientID selects a client's group; nil the MSP's (unscoped callers).
	ClientID *patch.ClientID
	Dim      compliance.Dim
	Key      string
	From, To patch.Day
}

// History is a group's daily ratings and their average.
type History struct {
	Days []*patch.RatingSnapshot `json:"days"`
	// Average is the mean of the days listed (today's live rating
	// included when To is today), against the mean target.
	Average *compliance.PeriodAverage `json:"average"`
}

// ComplianceHistory returns a group's daily ratings between From and To
// (the last 30 days by default); with To today, today's live rating is
// the last day.
func (s *Server) ComplianceHistory(ctx context.Context, q HistoryQuery) (*History, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if q.ClientID == nil && !sc.All {
		return nil, patch.Errorf(patch.KindForbidden, "MSP-wide ratings are for MSP staff.")
	}
	if q.ClientID != nil {
		if _, err := s.st.Clients.FindClientByID(ctx, *q.ClientID); err != nil {
			return nil, err
		}
	}
	if q.Dim == "" {
		q.Dim = compliance.DimAll
	}
	if !slices.Contains(compliance.Dims, q.Dim) {
		return nil, patch.FieldError("dim", "must be one of all, kind, class, os, tier, site (got %q)", q.Dim)
	}
	today := patch.DayOf(s.now())
	if q.To == "" || q.To > today {
		q.To = today
	}
	if q.From == "" {
		q.From = q.To.Add(-29)
	}
	if q.From > q.To {
		return nil, patch.FieldError("from", "must not be after to")
	}
	if q.To.Start().Sub(q.From.Start()) > 400*24*time.Hour {
		return nil, patch.FieldError("from", "a history covers at most 400 days")
	}
	dim, key := string(q.Dim), q.Key
	rows, err := s.st.Snapshots.FindSnapshots(ctx, patch.SnapshotFilter{ClientID: q.ClientID, MSP: q.ClientID == nil, Dim: &dim, Key: &key, From: q.From, To: q.To})
	if err != nil {
		return nil, err
	}
	if q.To == today {
		live, err := s.liveRows(ctx, q.ClientID, q.Dim, q.Key)
		if err != nil {
			return nil, err
		}
		rows = append(rows, live...)
	}
	h := &History{Days: rows}
	if avgs := compliance.Averages(rows, q.From, q.To); len(avgs) == 1 {
		h.Average = &avgs[0]
	}
	return h, nil
}

// liveRows returns today's live ratings of a client (or the MSP) as
// snapshot rows, to stand in for the day not over yet.
func (s *Server) liveRows(ctx context.Context, client *patch.ClientID, dim compliance.Dim, key string) ([]*patch.RatingSnapshot, error) {
	var rs []compliance.GroupRating
	err := s.withIndex(ctx, func(ix *compliance.Index, _ time.Time) {
		k := compliance.GroupKey{Dim: dim, Key: key}
		if client != nil {
			k.Client = *client
		}
		if r, ok := ix.Group(k); ok {
			rs = append(rs, r)
		}
	})
	if err != nil {
		return nil, err
	}
	rows, _ := compliance.SnapshotRows(patch.DayOf(s.now()), rs, nil, s.now())
	return rows, nil
}

// HistoryAssets returns the per-asset rows a past day's rating of a group
// was computed from.
func (s *Server) HistoryAssets(ctx context.Context, client patch.ClientID, day patch.Day, dim compliance.Dim, key string, limit, offset int) ([]*patch.AssetDay, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, 0, err
	}
	f := patch.AssetDayFilter{ClientID: &client, Day: &day, Limit: limit, Offset: offset}
	switch dim {
	case compliance.DimAll, compliance.DimTier, "":
	case compliance.DimClass:
		f.Class = &key
	case compliance.DimKind:
		k := patch.ClassKind(key)
		f.Kind = &k
	case compliance.DimOS:
		o := patch.OSFamily(key)
		f.OS = &o
	case compliance.DimSite:
		site := patch.SiteID(key)
		if key == compliance.NoSite {
			site = ""
		}
		f.SiteID = &site
	default:
		return nil, 0, patch.FieldError("dim", "must be one of all, kind, class, os, tier, site (got %q)", dim)
	}
	return s.st.Snapshots.FindAssetDays(ctx, f)
}

// RunComplianceOnce does one round of RunCompliance: every asset
// re-rated, every monitor evaluated, missing snapshots of the last days
// taken.
func (s *Server) RunComplianceOnce(ctx context.Context) error {
	if err := s.complianceRound(ctx); err != nil {
		return err
	}
	_, err := s.fillSnapshots(ctx, s.copts().CatchUpDays, false)
	return err
}

// ComplianceConfigured reports whether the server has the stores the
// compliance use cases and the SLA evaluator need (the demo seeds its
// patch history only then).
func (s *Server) ComplianceConfigured() bool {
	return s.st.ComplianceFacts != nil && s.st.Monitors != nil && s.st.Snapshots != nil && s.st.Baselines != nil &&
		s.st.Findings != nil && s.st.Policies != nil && s.st.Decisions != nil && s.st.Exceptions != nil && s.st.Evaluations != nil
}
