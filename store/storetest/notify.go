package storetest

// notifyTests are the suite's tests of webhooks, incidents and hunting rules.
var notifyTests = []suiteTest{}
