package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/postgres"
	"github.com/patchring/patchring/internal/postgres/postgrestest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlstore"
)

// TestRolloutTwoServersOnePostgres runs two servers, each with its own
// connection pool, on one PostgreSQL database, with the agents split
// between them and both schedulers running at the same time: exactly one
// schedules, no job is created or handed out twice, and when the leader is
// killed (it stops without releasing its lease) the other takes over once
// the lease lapses and finishes the cycle; the dead leader's lease can no
// longer write.
func TestRolloutTwoServersOnePostgres(t *testing.T) {
	dsn := postgrestest.NewSchema(t)
	open := func() *sqlstore.DB {
		db, err := postgres.Open(t.Context(), dsn)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := open(), open()
	_, err := dbA.Migrate(t.Context())
	must(t, err)
	clock := fleetClock()
	dbA.Now, dbB.Now = clock.Now, clock.Now
	a, b := rolloutServer(t, dbA, clock, "server-a"), rolloutServer(t, dbB, clock, "server-b")
	f := newFleet(t, dbA, clock, []*server.Server{a, b}, map[string]int{"canary": 4, "pilot": 6, "production": 10})
	f.approve()
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	cv, err := b.CreateCycle(tech, server.CycleInput{ClientID: f.client.ID})
	must(t, err)

	// Both schedulers race, round after round, while the agents check in
	// through both servers at the same time.
	race := func(servers ...*server.Server) (leaders map[string]int) {
		t.Helper()
		leaders = map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, s := range servers {
			wg.Go(func() {
				for range 3 {
					led, err := s.RolloutRound(t.Context())
					if err != nil {
						t.Errorf("server %d round: %v", i, err)
					}
					if led {
						mu.Lock()
						leaders[[]string{"a", "b"}[i]]++
						mu.Unlock()
					}
				}
			})
		}
		for _, m := range f.machines {
			wg.Go(func() {
				if err := m.agent.RunOnce(t.Context()); err != nil {
					t.Errorf("%s: %v", m.name, err)
				}
			})
		}
		wg.Wait()
		return leaders
	}
	var c *server.CycleView
	for range 5 {
		if leaders := race(a, b); len(leaders) != 1 {
			t.Fatalf("leaders in one lease period = %v, want exactly one", leaders)
		}
		if c, err = a.Cycle(tech, cv.ID); err != nil || c.Rings[0].State == patch.RingSoaking {
			break
		}
	}
	must(t, err)
	if c.Rings[0].Progress.Succeeded != 4 || c.Rings[0].State != patch.RingSoaking {
		t.Fatalf("canary = %+v", c.Rings[0])
	}

	// Kill the leader: it stops without releasing its lease. Who leads?
	leader, follower := a, b
	if b.Leading() {
		leader, follower = b, a
	}
	sys := patch.NewContextWithActor(t.Context(), patch.SystemActor("test"))
	deadLease, held, err := dbA.AcquireLease(sys, server.LeaseRollout, map[*server.Server]string{a: "server-a", b: "server-b"}[leader], time.Minute)
	if err != nil || !held {
		t.Fatalf("the leader's lease: %+v %v %v", deadLease, held, err)
	}
	if led, _ := follower.RolloutRound(t.Context()); led {
		t.Fatal("the follower led while the dead leader's lease runs")
	}
	clock.Advance(24*time.Hour + 2*time.Minute) // the lease lapses; canary soaked
	for range 3 {
		if led, err := follower.RolloutRound(t.Context()); err != nil || !led {
			t.Fatalf("the follower did not take over: %v %v", led, err)
		}
		f.checkIn()
	}
	// The dead leader's lease (old token) can no longer write a step.
	cur, err := dbA.FindCycleByID(sys, cv.ID)
	must(t, err)
	err = dbA.ApplyCycleStep(sys, patch.CycleStep{Lease: deadLease, Cycle: cur})
	if patch.ErrorKind(err) != patch.KindConflict || patch.ErrorField(err) != "lease" {
		t.Errorf("a step under the dead lease: %v", err)
	}
	c, _ = follower.Cycle(tech, cv.ID)
	if c.Rings[0].State != patch.RingPromoted || c.Rings[1].Progress.Succeeded != 6 {
		t.Fatalf("after the takeover: canary %s, pilot %+v", c.Rings[0].State, c.Rings[1].Progress)
	}
	clock.Advance(72*time.Hour + time.Minute)
	f.checkIn()
	if _, err := follower.RolloutRound(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = follower.ApproveRing(tech, cv.ID, "pilot", server.ApproveRingInput{})
	must(t, err)
	for range 3 {
		if _, err := follower.RolloutRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		f.checkIn()
	}
	c, _ = follower.Cycle(tech, cv.ID)
	if c.State != patch.CycleCompleted || c.Rings[2].Progress.Succeeded != 10 {
		t.Fatalf("cycle = %s %+v", c.State, c.Assets)
	}

	// No job was created twice for a deployment step, handed out twice,
	// or run twice by an agent.
	for host, d := range f.deployments(cv.ID) {
		if len(d.Jobs) != 1 || d.Jobs[0].Deliveries != 1 {
			t.Errorf("%s: jobs %+v", host, d.Jobs)
		}
	}
	for _, m := range f.machines {
		if n, _ := m.fake.counts(); n != 1 {
			t.Errorf("%s installed %d times", m.name, n)
		}
	}
}

// TestJobHandedOutOnce: two servers taking the same agent's check-ins at
// the same moment hand its pending job out once (the agent's row is locked
// for the whole check-in transaction).
func TestJobHandedOutOnce(t *testing.T) {
	dsn := postgrestest.NewSchema(t)
	dbA, err := postgres.Open(t.Context(), dsn)
	must(t, err)
	defer dbA.Close()
	dbB, err := postgres.Open(t.Context(), dsn)
	must(t, err)
	defer dbB.Close()
	_, err = dbA.Migrate(t.Context())
	must(t, err)
	clock := fleetClock()
	dbA.Now, dbB.Now = clock.Now, clock.Now
	a := rolloutServer(t, dbA, clock, "a")
	f := newFleet(t, dbA, clock, []*server.Server{a}, map[string]int{"canary": 1})
	m := f.machines[0]
	admin := patchtest.AdminContext(t.Context())
	for range 20 {
		job, err := a.RequestScan(admin, m.asset)
		must(t, err)
		ags, _, err := dbA.FindAgents(admin, patch.AgentFilter{AssetID: &m.asset})
		must(t, err)
		actx := patch.NewContextWithActor(t.Context(), ags[0].Actor())
		var mu sync.Mutex
		got := 0
		var wg sync.WaitGroup
		for _, db := range []interface {
			RecordCheckIn(context.Context, patch.CheckIn) (*patch.CheckInOutcome, error)
		}{dbA, dbB, dbA, dbB} {
			wg.Go(func() {
				out, err := db.RecordCheckIn(actx, patch.CheckIn{AgentID: ags[0].ID, ExpectedBy: clock.Now().Add(time.Hour), MaxJobs: 10, RedeliverAfter: time.Hour})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got += len(out.Jobs)
				mu.Unlock()
			})
		}
		wg.Wait()
		if got != 1 {
			t.Fatalf("job %s handed out %d times", job.ID, got)
		}
	}
}
