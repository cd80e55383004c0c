package inventory

import (
	"bufio"
	"bytes"
	"cmp"
	"slices"
	"strings"
)

// parseWho parses the output of who(1) (coreutils on Linux, BSD on macOS):
//
//	alice    tty7         2024-04-15 09:03 (:0)
//	bob      pts/0        Apr 15 10:12 (192.0.2.5)
//	carol    console      Apr 15 09:03
//
// Login times are ignored (their format depends on the locale and they
// would only make the inventory churn). A session is a console session when
// its line is a virtual terminal (ttyN), "console", or it comes from a local
// X display (":0").
func parseWho(out []byte) []Session {
	var sessions []Session
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		s := Session{User: fields[0], Terminal: fields[1]}
		if i := strings.LastIndexByte(line, '('); i >= 0 && strings.HasSuffix(line, ")") && i < len(line)-1 {
			s.From = line[i+1 : len(line)-1]
		}
		s.Console = isConsoleTerminal(s.Terminal) || strings.HasPrefix(s.From, ":")
		sessions = append(sessions, s)
	}
	return sessions
}

func isConsoleTerminal(t string) bool {
	if t == "console" || strings.HasPrefix(t, "seat") || t == ":0" {
		return true
	}
	if rest, ok := strings.CutPrefix(t, "tty"); ok && rest != "" {
		// Linux virtual consoles are tty1..tty63; macOS ttys000 are
		// Terminal windows, not the console.
		return allDigits(rest)
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseQueryUser parses the output of Windows' `query user` (quser):
//
//	 USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME
//	>administrator         console             1  Active      none   4/15/2024 9:03 AM
//	 jdoe                                      2  Disc         1:02  4/15/2024 8:00 AM
//
// The first line is a header (localised, so it is skipped by position). A
// leading ">" marks the session running the command. A disconnected session
// has no session name, so the field after the user name is its ID.
func parseQueryUser(out []byte) []Session {
	var sessions []Session
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if first {
			first = false
			if !strings.HasPrefix(strings.TrimSpace(line), ">") {
				continue // header
			}
		}
		line = strings.TrimPrefix(strings.TrimSpace(line), ">")
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		s := Session{User: fields[0]}
		if !allDigits(fields[1]) {
			s.Terminal = fields[1]
		}
		s.Console = strings.EqualFold(s.Terminal, "console")
		sessions = append(sessions, s)
	}
	return sessions
}

// primaryUser picks the host's main user: the console user if one is
// given, else the user of the most console sessions, else the user of the
// most sessions; ties go to the alphabetically first name.
func primaryUser(consoleUser string, sessions []Session) string {
	if consoleUser = strings.TrimSpace(consoleUser); consoleUser != "" {
		return consoleUser
	}
	var console []Session
	for _, s := range sessions {
		if s.Console {
			console = append(console, s)
		}
	}
	if len(console) > 0 {
		return mostFrequentUser(console)
	}
	return mostFrequentUser(sessions)
}

func mostFrequentUser(sessions []Session) string {
	counts := map[string]int{}
	for _, s := range sessions {
		if s.User != "" {
			counts[s.User]++
		}
	}
	users := make([]string, 0, len(counts))
	for u := range counts {
		users = append(users, u)
	}
	slices.SortFunc(users, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	if len(users) == 0 {
		return ""
	}
	return users[0]
}
