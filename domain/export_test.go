package domain

// FastRecordBody exposes the fast path of DecodeRecordBody to the fuzz test.
var FastRecordBody = fastRecordBody
