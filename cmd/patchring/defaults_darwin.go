package main

// defaultDataDir is where the server keeps its SQLite database and keys.
const defaultDataDir = "/Library/Application Support/Patchring/server"
