//go:build tools

// Keeps the commands the e2e builds in this module's graph, so go mod tidy records their go.sum lines.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
