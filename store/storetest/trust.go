package storetest

// trustTests are the suite's tests of the trust records.
var trustTests = []suiteTest{}
