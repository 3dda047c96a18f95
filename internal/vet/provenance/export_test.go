package provenance

// CounterFiles is the packed counter example, for the external tests.
var CounterFiles = counter
