package web

// routes registers every console route. A new page adds its routes in a
// method of its own file (func (c *Console) fooRoutes()) and one call here.
// c.handle wraps handlers that need a logged-in user (and, for POST, a
// valid form token); only the login page, static files and the not-found
// page are reachable without a session.
func (c *Console) routes() {
	c.mux.Handle("GET /static/", c.static)
	c.mux.HandleFunc("GET /favicon.ico", c.static.favicon)
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.handle("POST /logout", c.logout)

	c.overviewRoutes()
	c.assetRoutes()
	c.clientRoutes()
	c.auditRoutes()
	c.settingsRoutes()
	c.accountRoutes()
	c.complianceRoutes()
	c.findingRoutes()
	c.assetDetailRoutes()
	c.cycleRoutes()
	c.exceptionRoutes()
	c.policyRoutes()
	c.reportRoutes()
	c.agentRoutes()
	c.channelRoutes()
	c.manageRoutes()
	c.extraRoutes()

	c.mux.HandleFunc("/", c.notFound)
}
