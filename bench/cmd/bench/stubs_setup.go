package main

import "context"

// setupSection: issue 4 item 1 (time to artifacts) — to be written.
func setupSection(ctx context.Context, e *env) (*sectionResult, error) {
	return &sectionResult{markdown: "## Time to artifacts\n\nNot measured yet.\n"}, nil
}

// scaleSection: issue 4 item 4 (scale) — to be written.
func scaleSection(ctx context.Context, e *env) (*sectionResult, error) {
	return &sectionResult{markdown: "## Scale\n\nNot measured yet.\n"}, nil
}

// consumerSection: issue 4 item 5 (the consumer's view) — to be written.
func consumerSection(ctx context.Context, e *env) (*sectionResult, error) {
	return &sectionResult{markdown: "## The consumer's view\n\nNot measured yet.\n"}, nil
}
