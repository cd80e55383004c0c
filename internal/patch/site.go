package patch

import (
	"fmt"
	"net/netip"
	"time"
)

// Site is a client location. Its time zone places maintenance windows and
// reboot times; its subnets tell discovery which devices belong to it.
type Site struct {
	ID       SiteID   `json:"id"`
	ClientID ClientID `json:"client_id"`
	Name     string   `json:"name"`
	// Location is a free-form address or description ("Main St clinic, floor 2").
	Location string `json:"location"`
	// TimeZone is an IANA zone name such as "America/Chicago".
	TimeZone  string    `json:"time_zone"`
	Subnets   []string  `json:"subnets"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the site's fields.
func (s *Site) Validate() error {
	if s.ClientID == "" {
		return FieldError("client_id", "is required")
	}
	if err := validName("name", s.Name, 200); err != nil {
		return err
	}
	if err := validText("location", s.Location, 500); err != nil {
		return err
	}
	if err := ValidateTimeZone("time_zone", s.TimeZone); err != nil {
		return err
	}
	if len(s.Subnets) > 256 {
		return FieldError("subnets", "must list at most 256 subnets")
	}
	for i, sn := range s.Subnets {
		p, err := netip.ParsePrefix(sn)
		if err != nil {
			return FieldError(fmt.Sprintf("subnets[%d]", i), "must be a CIDR prefix such as 10.1.0.0/24 (got %q)", sn)
		}
		if p.Masked() != p {
			return FieldError(fmt.Sprintf("subnets[%d]", i), "has host bits set; did you mean %s?", p.Masked())
		}
	}
	return nil
}

// Location returns the site's time zone, or UTC when it cannot be loaded.
func (s *Site) Loc() *time.Location {
	if loc, err := time.LoadLocation(s.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// ValidateTimeZone checks that name is a loadable IANA time zone. "Local"
// is refused: a server's own zone must never leak into a client's schedule.
func ValidateTimeZone(field, name string) error {
	if name == "" {
		return FieldError(field, "is required (an IANA time zone such as America/Chicago)")
	}
	if name == "Local" {
		return FieldError(field, "must be an IANA time zone such as America/Chicago, not Local")
	}
	if _, err := time.LoadLocation(name); err != nil {
		return FieldError(field, "unknown time zone %q", name)
	}
	return nil
}

// SiteFilter selects sites. Nil fields do not filter.
type SiteFilter struct {
	ID       *SiteID
	ClientID *ClientID
	Name     *string
	Offset   int
	Limit    int
}

// SiteUpdate holds the fields of a partial update.
type SiteUpdate struct {
	Name     *string   `json:"name,omitempty"`
	Location *string   `json:"location,omitempty"`
	TimeZone *string   `json:"time_zone,omitempty"`
	Subnets  *[]string `json:"subnets,omitempty"`
}

// Apply applies u to s.
func (u SiteUpdate) Apply(s *Site) {
	set(&s.Name, u.Name)
	set(&s.Location, u.Location)
	set(&s.TimeZone, u.TimeZone)
	set(&s.Subnets, u.Subnets)
}
