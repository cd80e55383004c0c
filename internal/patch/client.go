package patch

import (
	"fmt"
	"net/mail"
	"slices"
	"time"
)

// MSP is the managed service provider running this Patchring installation.
type MSP struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Client is a client company of the MSP and the tenant boundary: every
// site, asset, policy and report belongs to exactly one client, and a
// client owner sees nothing of any other.
type Client struct {
	ID           ClientID `json:"id"`
	Name         string   `json:"name"`
	Notes        string   `json:"notes"`
	ContactName  string   `json:"contact_name"`
	ContactEmail string   `json:"contact_email"`
	// AssetClasses are the client's SLA asset classes, in display order.
	AssetClasses []AssetClass `json:"asset_classes"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// ClassKind groups asset classes for compliance targets: the service
// description promises one target for servers and one for workstations.
type ClassKind string

// Class kinds.
const (
	ClassKindServer      ClassKind = "server"
	ClassKindWorkstation ClassKind = "workstation"
)

// AssetClass is a client-configurable SLA class such as "core-server" or
// "do-not-disrupt". The SLA matrix is keyed by class × severity tier.
type AssetClass struct {
	Key  string    `json:"key"`
	Name string    `json:"name"`
	Kind ClassKind `json:"kind"`
	// TargetPct is the monthly Patch Health Compliance target, 0–100.
	TargetPct float64 `json:"target_pct"`
}

// Default asset classes, from the MSP playbook's SLA table and the service
// description's targets (servers ≥ 95 %, workstations ≥ 92 %).
const (
	ClassCoreServer   = "core-server"
	ClassServer       = "server"
	ClassWorkstation  = "workstation"
	ClassDoNotDisrupt = "do-not-disrupt"
	ClassKiosk        = "kiosk"
)

// DefaultAssetClasses returns the classes a new client starts with.
func DefaultAssetClasses() []AssetClass {
	return []AssetClass{
		{Key: ClassCoreServer, Name: "Core servers", Kind: ClassKindServer, TargetPct: 95},
		{Key: ClassServer, Name: "Servers", Kind: ClassKindServer, TargetPct: 95},
		{Key: ClassWorkstation, Name: "Workstations", Kind: ClassKindWorkstation, TargetPct: 92},
		{Key: ClassDoNotDisrupt, Name: "Do-not-disrupt systems", Kind: ClassKindServer, TargetPct: 95},
		{Key: ClassKiosk, Name: "Shared kiosks", Kind: ClassKindWorkstation, TargetPct: 92},
	}
}

// Validate checks the client's fields.
func (c *Client) Validate() error {
	if err := validName("name", c.Name, 200); err != nil {
		return err
	}
	if err := validText("notes", c.Notes, 4000); err != nil {
		return err
	}
	if err := validText("contact_name", c.ContactName, 200); err != nil {
		return err
	}
	if c.ContactEmail != "" {
		if err := validEmail("contact_email", c.ContactEmail); err != nil {
			return err
		}
	}
	return ValidateAssetClasses(c.AssetClasses)
}

// ValidateAssetClasses checks a client's class list: at least one class,
// unique keys, valid kinds and targets.
func ValidateAssetClasses(classes []AssetClass) error {
	if len(classes) == 0 {
		return FieldError("asset_classes", "must list at least one class")
	}
	if len(classes) > 50 {
		return FieldError("asset_classes", "must list at most 50 classes")
	}
	seen := map[string]bool{}
	for i, ac := range classes {
		f := fmt.Sprintf("asset_classes[%d]", i)
		if err := validKey(f+".key", ac.Key, 40); err != nil {
			return err
		}
		if seen[ac.Key] {
			return FieldError(f+".key", "duplicate class %q", ac.Key)
		}
		seen[ac.Key] = true
		if err := validName(f+".name", ac.Name, 100); err != nil {
			return err
		}
		if ac.Kind != ClassKindServer && ac.Kind != ClassKindWorkstation {
			return FieldError(f+".kind", "must be server or workstation (got %q)", string(ac.Kind))
		}
		if ac.TargetPct < 0 || ac.TargetPct > 100 || ac.TargetPct != ac.TargetPct {
			return FieldError(f+".target_pct", "must be between 0 and 100")
		}
	}
	return nil
}

// Class returns the client's class with the given key.
func (c *Client) Class(key string) (AssetClass, bool) {
	i := slices.IndexFunc(c.AssetClasses, func(ac AssetClass) bool { return ac.Key == key })
	if i < 0 {
		return AssetClass{}, false
	}
	return c.AssetClasses[i], true
}

// ClientFilter selects clients. Nil fields do not filter.
type ClientFilter struct {
	ID     *ClientID
	Name   *string // exact, case-insensitive
	Query  *string // substring of the name, case-insensitive
	Offset int
	Limit  int
}

// ClientUpdate holds the fields of a partial update. Nil fields are unchanged.
type ClientUpdate struct {
	Name         *string       `json:"name,omitempty"`
	Notes        *string       `json:"notes,omitempty"`
	ContactName  *string       `json:"contact_name,omitempty"`
	ContactEmail *string       `json:"contact_email,omitempty"`
	AssetClasses *[]AssetClass `json:"asset_classes,omitempty"`
}

// Apply applies u to c.
func (u ClientUpdate) Apply(c *Client) {
	set(&c.Name, u.Name)
	set(&c.Notes, u.Notes)
	set(&c.ContactName, u.ContactName)
	set(&c.ContactEmail, u.ContactEmail)
	set(&c.AssetClasses, u.AssetClasses)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func validEmail(field, s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return FieldError(field, "must be a plain e-mail address such as ops@example.com")
	}
	return nil
}
