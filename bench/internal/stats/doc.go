// Package stats holds the bench's figures over runs: one value per run
// (Runs), summarised as median and min–max, and the few ways the report
// prints them (milliseconds with three significant digits, ratios of
// medians).
package stats
