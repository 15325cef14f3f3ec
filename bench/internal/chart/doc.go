// Package chart draws results.png with gonum/plot: the sections describe
// their panels as data (Bars, Lines, Sizes) and Write draws them one above
// the other. It is the only package of the bench that imports gonum.
package chart
