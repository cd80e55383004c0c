package agent

import (
	"time"
)

// Status is what `patchring agent status` shows.
type Status struct {
	StateDir      string    `json:"state_dir"`
	Enrolled      bool      `json:"enrolled"`
	Revoked       bool      `json:"revoked,omitempty"`
	ServerURL     string    `json:"server_url,omitempty"`
	AgentID       string    `json:"agent_id,omitempty"`
	AssetID       string    `json:"asset_id,omitempty"`
	ClientID      string    `json:"client_id,omitempty"`
	EnrolledAt    time.Time `json:"enrolled_at,omitzero"`
	LastCheckIn   time.Time `json:"last_check_in,omitzero"`
	NextCheckIn   time.Time `json:"next_check_in,omitzero"`
	LastScan      time.Time `json:"last_scan,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	Outbox        int       `json:"outbox"`
	OutboxDropped int64     `json:"outbox_dropped"`
	RefusedJobs   int64     `json:"refused_jobs"`
	// CommandKeys are the ids of the pinned server keys.
	CommandKeys []string      `json:"command_keys,omitempty"`
	ClockOffset time.Duration `json:"clock_offset_ns,omitempty"`
	Service     string        `json:"service"`
}

// ReadStatus reads the agent's status from its state directory.
func ReadStatus(dir string) (*Status, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	n, err := OpenOutbox(dir, 0).Len()
	if err != nil {
		return nil, err
	}
	s := &Status{
		StateDir: dir, Enrolled: st.Enrolled(), Revoked: st.Revoked, ServerURL: st.ServerURL, AgentID: st.AgentID,
		AssetID: st.AssetID, ClientID: st.ClientID, EnrolledAt: st.EnrolledAt, LastCheckIn: st.LastCheckIn,
		LastScan: st.LastScan, LastError: st.LastError, LastErrorAt: st.LastErrorAt, Outbox: n,
		OutboxDropped: st.OutboxDropped, RefusedJobs: st.RefusedJobs, ClockOffset: st.ClockOffset,
		Service: ServiceStatus(),
	}
	if !st.LastCheckIn.IsZero() && st.NextCheckInSeconds > 0 {
		s.NextCheckIn = st.LastCheckIn.Add(time.Duration(st.NextCheckInSeconds) * time.Second)
	}
	for _, k := range st.CommandKeys {
		s.CommandKeys = append(s.CommandKeys, k.ID)
	}
	return s, nil
}
