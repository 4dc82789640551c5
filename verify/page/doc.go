// Package page serves certificate verification on the public port: the
// verification page (HTML or JSON), the PDF again, the signed Open Badges
// credential and the issuer's key set, rate-limited per source address.
// Package verify describes the routes and the choices behind them.
package page
