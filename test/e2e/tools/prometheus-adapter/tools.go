//go:build tools

// Keeps the adapter's command in the module graph so `go mod tidy` records its dependencies.
package tools

import _ "sigs.k8s.io/prometheus-adapter/cmd/adapter"
