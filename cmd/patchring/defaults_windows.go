package main

// defaultDataDir is where the server keeps its SQLite database and keys.
const defaultDataDir = `C:\ProgramData\Patchring\server`
