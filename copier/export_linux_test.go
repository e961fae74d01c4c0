package copier

// SetMinPart lowers the smallest part of a split file for a test.
func SetMinPart(cleanup func(func()), part int64) {
	old := minPart
	minPart = part
	cleanup(func() { minPart = old })
}
