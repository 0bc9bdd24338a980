// Package eventstore is the ledger's append-only log on NATS JetStream and
// nothing else: the embedded server, the one immutable stream, appends with
// per-aggregate expectations (single publishes and atomic batches, shared
// by concurrent appends under load), forever-idempotency by event id, reads
// and live subscriptions, and a tail of its own log that tells appends the
// recorded times JetStream gave their messages.
//
// It turns JetStream errors into the domain's: a wrong-last-sequence reply
// becomes a domain conflict naming the aggregate and its current version; a
// server that does not answer becomes an "unavailable" error after which
// nothing was appended, or the retry with the same ids finds what was.
package eventstore
