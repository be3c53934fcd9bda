//go:build tools

// Package tools pins the S3-compatible server the tests run against. It is a
// module of its own so that the server's dependencies never reach Ark's
// go.mod.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
