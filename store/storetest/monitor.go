package storetest

// monitorTests are the suite's tests of the monitor records.
var monitorTests = []suiteTest{}
