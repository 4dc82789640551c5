package slacktest

import "net/http"

// testHTTP has a transport of its own. httptest.Server.Close closes the idle
// connections of http.DefaultTransport, which can break a request another
// parallel test is just sending on it.
var testHTTP = &http.Client{Transport: &http.Transport{}}
