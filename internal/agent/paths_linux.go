package agent

// DefaultStateDir is where the agent keeps its key, state and outbox.
const DefaultStateDir = "/var/lib/patchring-agent"
