package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchring/patchring/internal/email"
	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/version"
	"github.com/patchring/patchring/internal/webhook"
	"github.com/spf13/cobra"
)

// notifyFlags configure notification delivery on the server: which
// networks webhooks may reach, the key that seals webhook secrets, and
// the SMTP relay for e-mail channels.
type notifyFlags struct {
	allowNetworks []string
	keyFile       string
	smtpHost      string
	smtpPort      int
	smtpUsername  string
	smtpPassword  string
	smtpFrom      string
	smtpTLS       string
}

func (f *notifyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.allowNetworks, "notify-allow-network", nil,
		"CIDR that webhooks may reach although it is private, loopback or link-local (e.g. 10.0.4.0/24 for an on-premises PSA); repeatable. Default: public addresses only")
	fl.StringVar(&f.keyFile, "notify-key-file", "", "file with a 32-byte key (64 hex characters or base64) that seals webhook signing secrets, kept out of the database and its backups; default: a key stored in the database")
	fl.StringVar(&f.smtpHost, "smtp-host", "", "SMTP relay for e-mail notification channels (e-mail channels are off without it)")
	fl.IntVar(&f.smtpPort, "smtp-port", 0, "SMTP port (default 587, or 465 with --smtp-tls tls)")
	fl.StringVar(&f.smtpUsername, "smtp-username", "", "SMTP user name (AUTH PLAIN)")
	fl.StringVar(&f.smtpPassword, "smtp-password", "", "SMTP password; prefer the environment variable PATCHRING_SMTP_PASSWORD")
	fl.StringVar(&f.smtpFrom, "smtp-from", "", `sender of notification e-mail, e.g. "Patchring <patchring@msp.example>"`)
	fl.StringVar(&f.smtpTLS, "smtp-tls", "starttls", "SMTP encryption: starttls, tls (implicit) or none (only for a relay on this host or network)")
}

// options builds the server's notification options: a webhook sender
// always, an e-mail sender when an SMTP host is set.
func (f *notifyFlags) options() (server.NotifyOptions, error) {
	var guard webhook.Guard
	for _, s := range f.allowNetworks {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return server.NotifyOptions{}, usagef("--notify-allow-network %q: want a CIDR such as 10.0.4.0/24", s)
		}
		guard.Allow = append(guard.Allow, p.Masked())
	}
	o := server.NotifyOptions{Senders: map[patch.ChannelKind]notify.Sender{
		patch.ChannelWebhook: webhook.New(webhook.Options{Guard: guard, UserAgent: "Patchring/" + version.String()}),
	}}
	if f.keyFile != "" {
		key, err := readKeyFile(f.keyFile)
		if err != nil {
			return server.NotifyOptions{}, err
		}
		o.SecretKey = key
	}
	if f.smtpHost != "" {
		if f.smtpFrom == "" {
			return server.NotifyOptions{}, usagef("--smtp-from is required with --smtp-host")
		}
		s, err := email.New(email.Config{Host: f.smtpHost, Port: f.smtpPort, Username: f.smtpUsername, Password: f.smtpPassword,
			From: f.smtpFrom, TLS: f.smtpTLS})
		if err != nil {
			return server.NotifyOptions{}, usagef("SMTP settings: %v", err)
		}
		o.Senders[patch.ChannelEmail] = s
	}
	return o, nil
}

// readKeyFile reads a 32-byte key written as hex (openssl rand -hex 32)
// or base64 (openssl rand -base64 32).
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--notify-key-file: %v", err)
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, usagef("--notify-key-file %s must hold 32 bytes as 64 hex characters or base64 (make one with: openssl rand -hex 32)", path)
}

// channelFilterFlags are the filter flags of channels create and update.
type channelFilterFlags struct {
	events      []string
	kinds       []string
	minSeverity string
	clients     []string
}

func (f *channelFilterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.events, "events", nil, "event types to deliver: alert.raised, alert.escalated, alert.resolved, ticket.opened, ticket.resolved (default all)")
	cmd.Flags().StringSliceVar(&f.kinds, "kinds", nil, "alert and ticket kinds to deliver, e.g. updates_failed,agent_offline,cycle_halted (default all)")
	cmd.Flags().StringVar(&f.minSeverity, "min-severity", "", "drop events below: info, warning or critical")
	cmd.Flags().StringSliceVar(&f.clients, "only-client", nil, "MSP-wide channels: deliver only these clients' events (repeatable)")
}

// apply sets the filter parts whose flags were given.
func (f *channelFilterFlags) apply(cmd *cobra.Command, ef *patch.EventFilter) (changed bool) {
	if cmd.Flags().Changed("events") {
		ef.Events = nil
		for _, e := range f.events {
			ef.Events = append(ef.Events, patch.EventType(strings.TrimSpace(e)))
		}
		changed = true
	}
	if cmd.Flags().Changed("kinds") {
		ef.Kinds, changed = f.kinds, true
	}
	if cmd.Flags().Changed("min-severity") {
		ef.MinSeverity, changed = f.minSeverity, true
	}
	if cmd.Flags().Changed("only-client") {
		ef.ClientIDs = nil
		for _, c := range f.clients {
			ef.ClientIDs = append(ef.ClientIDs, patch.ClientID(strings.TrimSpace(c)))
		}
		changed = true
	}
	return changed
}

func describeFilter(f patch.EventFilter) string {
	var parts []string
	if len(f.Events) > 0 {
		es := make([]string, len(f.Events))
		for i, e := range f.Events {
			es[i] = string(e)
		}
		parts = append(parts, "events="+strings.Join(es, ","))
	}
	if len(f.Kinds) > 0 {
		parts = append(parts, "kinds="+strings.Join(f.Kinds, ","))
	}
	if f.MinSeverity != "" {
		parts = append(parts, "≥"+f.MinSeverity)
	}
	if len(f.ClientIDs) > 0 {
		cs := make([]string, len(f.ClientIDs))
		for i, c := range f.ClientIDs {
			cs[i] = string(c)
		}
		parts = append(parts, "clients="+strings.Join(cs, ","))
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, " ")
}

func printChannel(io stdio, ch *server.ChannelWithSecret) {
	fmt.Fprintf(io.out, "%s\t%s %s %q\n", ch.ID, map[bool]string{true: "enabled", false: "disabled"}[ch.Enabled], ch.Kind, ch.Name)
	if ch.Secret != "" {
		fmt.Fprintf(io.out, "Signing secret (shown only now; give it to the receiver): %s\n", ch.Secret)
	}
}

func newChannelsCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "channels", Short: "Notification channels (webhook, e-mail) and their deliveries on a running server"}

	var (
		lr      remoteFlags
		lclient string
		lmsp    bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List notification channels, MSP-wide first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			if lclient != "" {
				q.Set("client_id", lclient)
			}
			if lmsp {
				q.Set("msp", "true")
			}
			var page struct {
				Items []*patch.Channel `json:"items"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/notification-channels?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCLIENT\tNAME\tKIND\tENABLED\tTO\tFILTER")
			for _, ch := range page.Items {
				to := ch.URL
				if ch.Kind == patch.ChannelEmail {
					to = strings.Join(ch.Recipients, ", ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", ch.ID, cmpOr(string(ch.ClientID), "(MSP)"), ch.Name, ch.Kind, ch.Enabled, to, describeFilter(ch.Filter))
			}
			return tw.Flush()
		},
	}
	lr.register(list)
	list.Flags().StringVar(&lclient, "client", "", "only this client's channels")
	list.Flags().BoolVar(&lmsp, "msp", false, "only the MSP-wide channels")

	var (
		cr        remoteFlags
		cclient   string
		cname     string
		ckind     string
		curl      string
		cto       []string
		cdisabled bool
		cfilter   channelFilterFlags
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a webhook or e-mail channel; a webhook's signing secret is printed once",
		Example: `  patchring channels create --name PSA --kind webhook --url https://psa.example.com/hooks/patchring --min-severity warning
  patchring channels create --client cli_… --name "Owner" --kind email --to owner@clinic.example --kinds updates_failed,cycle_halted`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cname == "" || ckind == "" {
				return usagef("--name and --kind are required")
			}
			c, err := cr.client()
			if err != nil {
				return err
			}
			in := server.ChannelInput{ClientID: patch.ClientID(cclient), Name: cname, Kind: patch.ChannelKind(ckind), URL: curl, Recipients: cto}
			if cdisabled {
				in.Enabled = new(bool)
			}
			cfilter.apply(cmd, &in.Filter)
			var out server.ChannelWithSecret
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/notification-channels", in, &out); err != nil {
				return err
			}
			if cr.json {
				return printJSON(io.out, out)
			}
			printChannel(io, &out)
			return nil
		},
	}
	cr.register(create)
	create.Flags().StringVar(&cclient, "client", "", "owning client (default: MSP-wide; a client owner's channels are their client's)")
	create.Flags().StringVar(&cname, "name", "", "channel name")
	create.Flags().StringVar(&ckind, "kind", "", "webhook or email")
	create.Flags().StringVar(&curl, "url", "", "webhook URL (https://…)")
	create.Flags().StringSliceVar(&cto, "to", nil, "e-mail recipient (repeatable)")
	create.Flags().BoolVar(&cdisabled, "disabled", false, "create the channel disabled")
	cfilter.register(create)

	var (
		ur      remoteFlags
		uname   string
		uurl    string
		uto     []string
		uenable bool
		udis    bool
		urotate bool
		ufilter channelFilterFlags
	)
	update := &cobra.Command{
		Use:   "update CHANNEL_ID",
		Short: "Change a channel; --rotate-secret prints a new webhook signing secret once",
		Args:  exactArgs(1, "a CHANNEL_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if uenable && udis {
				return usagef("--enable and --disable exclude each other")
			}
			c, err := ur.client()
			if err != nil {
				return err
			}
			path := "/api/v1/notification-channels/" + url.PathEscape(args[0])
			var change server.ChannelChange
			if cmd.Flags().Changed("name") {
				change.Name = &uname
			}
			if cmd.Flags().Changed("url") {
				change.URL = &uurl
			}
			if cmd.Flags().Changed("to") {
				change.Recipients = &uto
			}
			if uenable || udis {
				change.Enabled = &uenable
			}
			change.RotateSecret = urotate
			if cmd.Flags().Changed("events") || cmd.Flags().Changed("kinds") || cmd.Flags().Changed("min-severity") || cmd.Flags().Changed("only-client") {
				var cur patch.Channel
				if err := c.JSON(cmd.Context(), http.MethodGet, path, nil, &cur); err != nil {
					return err
				}
				ufilter.apply(cmd, &cur.Filter)
				change.Filter = &cur.Filter
			}
			var out server.ChannelWithSecret
			if err := c.JSON(cmd.Context(), http.MethodPatch, path, change, &out); err != nil {
				return err
			}
			if ur.json {
				return printJSON(io.out, out)
			}
			printChannel(io, &out)
			return nil
		},
	}
	ur.register(update)
	update.Flags().StringVar(&uname, "name", "", "new name")
	update.Flags().StringVar(&uurl, "url", "", "new webhook URL")
	update.Flags().StringSliceVar(&uto, "to", nil, "new e-mail recipients (replace the list; repeatable)")
	update.Flags().BoolVar(&uenable, "enable", false, "enable the channel")
	update.Flags().BoolVar(&udis, "disable", false, "disable the channel (cancels its pending deliveries)")
	update.Flags().BoolVar(&urotate, "rotate-secret", false, "replace the webhook signing secret (the old one stops working at once)")
	ufilter.register(update)

	var dr remoteFlags
	del := &cobra.Command{
		Use:   "delete CHANNEL_ID",
		Short: "Delete a channel and its deliveries",
		Args:  exactArgs(1, "a CHANNEL_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := dr.client()
			if err != nil {
				return err
			}
			return c.JSON(cmd.Context(), http.MethodDelete, "/api/v1/notification-channels/"+url.PathEscape(args[0]), nil, nil)
		},
	}
	dr.register(del)

	var tr remoteFlags
	test := &cobra.Command{
		Use:   "test CHANNEL_ID",
		Short: "Send a test notification now; exits 1 when the receiver did not take it",
		Args:  exactArgs(1, "a CHANNEL_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := tr.client()
			if err != nil {
				return err
			}
			var d patch.Delivery
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/notification-channels/"+url.PathEscape(args[0])+"/test", nil, &d); err != nil {
				return err
			}
			if tr.json {
				if err := printJSON(io.out, d); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(io.out, "%s %s", d.ID, d.State)
				if d.LastStatus != 0 {
					fmt.Fprintf(io.out, " (%d)", d.LastStatus)
				}
				fmt.Fprintln(io.out)
			}
			if d.State != patch.DeliveryDelivered {
				return patch.Errorf(patch.KindUnavailable, "The test notification was not delivered: %s", d.LastError)
			}
			return nil
		},
	}
	tr.register(test)

	var (
		vr       remoteFlags
		vchannel string
		vclient  string
		vstate   string
		vlimit   int
	)
	deliveries := &cobra.Command{
		Use:   "deliveries",
		Short: "Recent deliveries, newest first",
		Example: `  patchring channels deliveries --state failed
  patchring channels deliveries --channel nch_…`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vlimit < 1 || vlimit > 1000 {
				return usagef("--limit must be between 1 and 1000")
			}
			c, err := vr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {fmt.Sprint(vlimit)}}
			for k, v := range map[string]string{"channel_id": vchannel, "client_id": vclient, "state": vstate} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var page struct {
				Items []*patch.Delivery `json:"items"`
				Total int               `json:"total"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/notification-deliveries?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if vr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tDELIVERY\tCHANNEL\tEVENT\tSEVERITY\tSTATE\tATTEMPTS\tNEXT\tLAST ERROR\tSUMMARY")
			for _, d := range page.Items {
				next := ""
				if !d.NextAttemptAt.IsZero() {
					next = d.NextAttemptAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.CreatedAt.Local().Format(time.DateTime), d.ID, d.ChannelID, d.EventType,
					d.Severity, d.State, d.Attempts, next, clipText(d.LastError, 60), clipText(d.Summary, 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Total > len(page.Items) {
				fmt.Fprintf(io.err, "showing %d of %d\n", len(page.Items), page.Total)
			}
			return nil
		},
	}
	vr.register(deliveries)
	deliveries.Flags().StringVar(&vchannel, "channel", "", "only this channel's deliveries")
	deliveries.Flags().StringVar(&vclient, "client", "", "only deliveries of this client's events")
	deliveries.Flags().StringVar(&vstate, "state", "", "pending, delivered, failed or canceled")
	deliveries.Flags().IntVar(&vlimit, "limit", 50, "how many")

	cmd.AddCommand(list, create, update, del, test, deliveries)
	return cmd
}

// clipText shortens s to n runes for a table cell, on one line.
func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
