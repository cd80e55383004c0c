// Package web is Patchring's console for MSP staff and client owners:
// server-rendered HTML from embedded html/template files, an embedded,
// content-hashed stylesheet and a few lines of JavaScript, and SVG charts
// drawn in Go (package chart). Nothing is loaded from the network, so the
// console works air-gapped.
//
// # Shape
//
// The console has its own [http.ServeMux], separate from the JSON API's
// (tailscale's safeweb idea): browser-only protections — session cookies,
// CSRF checks, the Content-Security-Policy — apply here and never to API
// clients or agents, and bearer tokens are never accepted here.
//
// Handlers are methods of [Console] with the signature of handlerFunc: they
// receive the logged-in user's session, call [server.Server] use cases with
// the user's actor in the context, and return an error. One adapter turns
// errors into pages (404 for objects that do not exist or are not visible
// to the caller, 403, 503 …) or, for forms, into field errors next to the
// inputs. Handlers never decide who may see what: authorization and tenancy
// are enforced by the server and the store; the console only hides links
// the user could not follow anyway.
//
// Every page has a typed data struct embedding [Page] (wtf's idea, rather
// than gitea's map[string]any); templates live in templates/pages/NAME.tmpl,
// share templates/layout.tmpl and templates/partials.tmpl, and are parsed
// once at start, so a broken template fails New, not a request.
//
// # Sessions and CSRF
//
// Login checks the password (argon2id, in the server) and opens a
// server-side session (patch.SessionStore): the cookie holds a 256-bit
// random secret, the database only its SHA-256. The cookie is HttpOnly,
// SameSite=Lax, and with [Options.Secure] also Secure and named with the
// __Host- prefix. Sessions end after an idle timeout and an absolute
// lifetime, on logout, and when the user's password changes; logging in
// rotates the session id.
//
// State-changing requests pass two independent checks: Go's
// [http.CrossOriginProtection] (Sec-Fetch-Site / Origin against Host), and a
// per-session token in every form, derived from the session secret with
// HMAC so that it needs no storage. The token covers the browsers that send
// neither header (which CrossOriginProtection lets through by design) and
// stays correct if someone later adds a bypass pattern. Login attempts are
// rate-limited per client IP, per account and per (IP, account).
//
// docs/console.md describes the design for operators and lists the
// extension points for new pages, navigation items, tile numbers and charts.
package web
