// Package deploy holds what the container stack needs besides the files at the
// repository root (Dockerfile, .dockerignore, docker-compose.yml): the
// PostgreSQL init script, Temporal's schema and namespace jobs and its dynamic
// config. Its tests check those files statically, without a Docker engine.
package deploy
