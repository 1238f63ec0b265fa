module github.com/tfprep/tfprep

go 1.26.0

require (
	github.com/apache/beam/sdks/v2 v2.77.0 // indirect
	github.com/disintegration/imaging v1.6.2 // indirect
	github.com/gocarina/gocsv v0.0.0-20240520201108-78e41c74b4b1 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	golang.org/x/image v0.0.0-20191009234506-e7c1f5e7dbb8 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
