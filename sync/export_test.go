package sync

// SetBeforeSwap lets the external tests act between verify and swap.
func SetBeforeSwap(r *Runner, f func()) { r.beforeSwap = f }
