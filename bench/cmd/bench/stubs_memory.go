package main

import "context"

// memorySection: issue 4 item 3 (memory) — to be written.
func memorySection(ctx context.Context, e *env) (*sectionResult, error) {
	return &sectionResult{markdown: "## Memory\n\nNot measured yet.\n"}, nil
}
