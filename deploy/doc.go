// Package deploy holds the deployment examples: the env files that docker-compose.yml at the
// repository root reads (copied from the *.env.example files here). It has no code; its tests
// check, without a Docker engine, that docker-compose.yml, the env examples and the two
// Dockerfiles agree with the binaries' sources: every variable set is one the binaries
// accept, the URLs point at the right services and ports, the healthchecks probe routes that
// exist, no database port is published, and the images build static binaries that run as a
// non-root user. See docs/operations.md.
package deploy
