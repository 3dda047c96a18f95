// Package examples holds the example plugins under plugins/, each its own
// Go module built with pluginkit.Build, and the test that builds them and
// checks each module against its manifest. See README.md for the plugins
// and the test scenario format.
package examples
