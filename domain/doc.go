// Package domain is the ledger's language: the CloudEvents envelope and the
// stored record, aggregate references and ids, the event catalogue of the
// 2021 work plan with its rules, and the one error type every layer speaks.
//
// It imports only the standard library. Time is passed in, never read from
// the clock here.
package domain
