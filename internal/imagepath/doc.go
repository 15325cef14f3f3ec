// Package imagepath holds the rules every in-image path obeys before
// artifactfs looks it up: absolute, cleaned, free of NUL bytes, bounded in
// length, and unable to climb above the image root. The check itself is
// artifactbind.CheckPath, shared with the runtime side.
package imagepath
