package agent

// DefaultStateDir is where the agent keeps its key, state and outbox.
const DefaultStateDir = "/Library/Application Support/Patchring/agent"
