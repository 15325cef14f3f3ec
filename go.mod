module github.com/artifactfs/artifactfs

go 1.26.8
