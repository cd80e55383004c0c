package main

// Windows has no IANA time-zone database; maintenance windows and site time
// zones need one on the server and on agents alike, so it is embedded.
import _ "time/tzdata"
