package install

// RollbackWith is Rollback with the folder's files written by write, so
// that a test can make one write fail as a crash or a full disk would.
var RollbackWith = rollback
