//go:build !linux && !darwin && !windows

package main

// defaultDataDir is where the server keeps its SQLite database and keys.
const defaultDataDir = "/var/lib/patchring"
