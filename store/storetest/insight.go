package storetest

// insightTests are the suite's tests of the insight records.
var insightTests = []suiteTest{}
