package plan

// LeafListeners exposes leafListeners to the external tests.
var LeafListeners = leafListeners

// Decisions exposes decisions to the external tests.
var Decisions = decisions
