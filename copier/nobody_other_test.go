//go:build !unix

package copier_test

import "testing"

func rerunAsNobody(t *testing.T) { t.Skip("needs Unix credentials") }
