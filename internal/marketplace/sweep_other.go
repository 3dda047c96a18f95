//go:build !unix

package marketplace

// processAlive cannot tell here, so every process counts as alive and only
// age removes a folder.
func processAlive(pid int) bool { return true }
