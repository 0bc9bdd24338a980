// Package tests holds the end-to-end tests: the real store on a real
// JetStream (embedded, over TCP, in a cluster), child processes killed with
// SIGKILL, and later the HTTP server and a real Prometheus.
package tests
