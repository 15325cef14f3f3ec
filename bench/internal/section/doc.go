// Package section is the contract between the bench command and its
// sections: what every section gets (Env: the flags, the checkouts, a
// work directory of its own) and what it returns (Result: its part of
// results.md and its panels of results.png).
package section
