package dbsync

// SetVerifyRead lets the external tests act when verify has read every
// table, before it checks that no run wrote meanwhile.
func SetVerifyRead(r *Runner, f func()) { r.verifyRead = f }

// ErrRunDuringVerify is errRunDuringVerify, for the external tests.
var ErrRunDuringVerify = errRunDuringVerify
