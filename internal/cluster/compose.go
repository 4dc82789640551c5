package cluster

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// Compose is docker-compose.yml as `docker compose` would read it: the
// cluster takes every script, variable and file it runs from here, so that
// what runs on this machine is what the images would be given.
type Compose struct {
	project *types.Project
}

// LoadCompose reads repo/docker-compose.yml with env as the only
// environment for its ${VAR:-default} interpolation (neither the process's
// variables nor a .env file leak in unless the caller passes them). Every
// profile is enabled, so services kept behind one are there too.
func LoadCompose(ctx context.Context, repo string, env map[string]string) (*Compose, error) {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		pairs = append(pairs, k+"="+env[k])
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repo, "docker-compose.yml")},
		cli.WithWorkingDirectory(repo),
		cli.WithEnv(pairs),
		cli.WithResolvedPaths(true),
		cli.WithProfiles([]string{"*"}),
	)
	if err != nil {
		return nil, fmt.Errorf("docker-compose.yml: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load docker-compose.yml: %w", err)
	}
	return &Compose{project: p}, nil
}

// Service returns one service of the file.
func (c *Compose) Service(name string) (types.ServiceConfig, error) {
	s, err := c.project.GetService(name)
	if err != nil {
		return types.ServiceConfig{}, fmt.Errorf("docker-compose.yml: %w", err)
	}
	return s, nil
}

// Env is the environment compose gives the service's container, as a map.
func (c *Compose) Env(service string) (map[string]string, error) {
	s, err := c.Service(service)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out, nil
}

// Image is the image the service runs, with its tag.
func (c *Compose) Image(service string) (string, error) {
	s, err := c.Service(service)
	if err != nil {
		return "", err
	}
	return s.Image, nil
}

// HostFile maps a path inside the service's container to the repository
// file behind it through the service's bind mounts.
func (c *Compose) HostFile(service, inContainer string) (string, error) {
	s, err := c.Service(service)
	if err != nil {
		return "", err
	}
	if p, ok := HostFile(s, inContainer); ok {
		return p, nil
	}
	return "", fmt.Errorf("docker-compose.yml: no bind mount of service %s provides %s", service, inContainer)
}

// HostFile maps a path inside s's container to the host file behind it
// through s's bind mounts, if one covers it.
func HostFile(s types.ServiceConfig, inContainer string) (string, bool) {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if inContainer == v.Target {
			return v.Source, true
		}
		if rest, ok := strings.CutPrefix(inContainer, strings.TrimSuffix(v.Target, "/")+"/"); ok {
			return filepath.Join(v.Source, filepath.FromSlash(rest)), true
		}
	}
	return "", false
}

// Script is the host file of the shell script a one-shot service runs as
// its entrypoint (["/bin/sh", "/scripts/x.sh"]).
func (c *Compose) Script(service string) (string, error) {
	s, err := c.Service(service)
	if err != nil {
		return "", err
	}
	for _, arg := range s.Entrypoint {
		if strings.HasSuffix(arg, ".sh") {
			return c.HostFile(service, arg)
		}
	}
	return "", fmt.Errorf("docker-compose.yml: service %s runs no script as its entrypoint", service)
}

// InitScripts are the host files the postgres image would run from
// /docker-entrypoint-initdb.d on a new data directory, in the image's order
// (by name).
func (c *Compose) InitScripts(service string) ([]string, error) {
	s, err := c.Service(service)
	if err != nil {
		return nil, err
	}
	const dir = "/docker-entrypoint-initdb.d/"
	byTarget := map[string]string{}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(v.Target, dir) {
			byTarget[v.Target] = v.Source
		}
	}
	var out []string
	for _, t := range slices.Sorted(maps.Keys(byTarget)) {
		out = append(out, byTarget[t])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("docker-compose.yml: service %s mounts no init script", service)
	}
	return out, nil
}

// ServerSettings are the `-c name=value` settings in the service's command
// (`postgres -c max_connections=200`), in order.
func (c *Compose) ServerSettings(service string) ([]string, error) {
	s, err := c.Service(service)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := 0; i < len(s.Command); i++ {
		if s.Command[i] == "-c" && i+1 < len(s.Command) {
			out = append(out, s.Command[i+1])
			i++
		}
	}
	return out, nil
}
