package agent

// DefaultStateDir is where the agent keeps its key, state and outbox. Its
// ACL is set to SYSTEM and Administrators only (see PrepareDir).
const DefaultStateDir = `C:\ProgramData\Patchring\agent`
