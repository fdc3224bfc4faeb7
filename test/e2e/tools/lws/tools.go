//go:build tools

// Keeps the command the e2e builds in this module's graph, so go mod tidy records its go.sum lines.
package tools

import (
	_ "sigs.k8s.io/lws/cmd"
)
