// Package tests holds the end-to-end tests: the real server wiring and the
// real binary on a real JetStream (embedded, over TCP, in a cluster),
// processes killed with SIGKILL or stopped with SIGTERM under load, a real
// Prometheus, and the performance benchmark.
package tests
