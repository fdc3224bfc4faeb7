//go:build tools

// Keeps the command the test builds in this module's graph, so go mod tidy records its go.sum lines.
package tools

import _ "github.com/thanos-io/thanos/cmd/thanos"
