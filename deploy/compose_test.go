package deploy

import (
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/internal/cluster"
	"github.com/coursehook/coursehook/workflows"
)

const (
	repoRoot    = ".."
	composePath = "../docker-compose.yml"
)

// coursehookServices are the services built from the Dockerfile, each with
// the binary its command must run.
var coursehookServices = map[string]string{
	"worker":  binDir + "/coursehook-worker",
	"starter": binDir + "/coursehook-starter",
}

// loadProject loads docker-compose.yml the way `docker compose` would, but
// with env as the only environment: neither the host's variables nor a .env
// file may change what the tests see. Every profile is enabled, so services
// kept behind one are checked too.
func loadProject(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composePath},
		cli.WithWorkingDirectory(repoRoot),
		cli.WithEnv(pairs),
		cli.WithResolvedPaths(true),
		cli.WithProfiles([]string{"*"}),
	)
	require.NoError(t, err)
	project, err := opts.LoadProject(t.Context())
	require.NoError(t, err, "docker-compose.yml does not load")
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	require.NoError(t, err, "docker-compose.yml has no service %s", name)
	return s
}

// envValue returns the value s sets for name, and whether it sets it.
func envValue(s types.ServiceConfig, name string) (string, bool) {
	v, ok := s.Environment[name]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func requireEnv(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := envValue(s, name)
	require.True(t, ok, "service %s does not set %s", s.Name, name)
	return v
}

// published returns the host port that s publishes for container port target.
func published(s types.ServiceConfig, target uint32) (string, bool) {
	for _, p := range s.Ports {
		if p.Target == target && p.Published != "" {
			return p.Published, true
		}
	}
	return "", false
}

func hasHealthcheck(s types.ServiceConfig) bool {
	return s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0
}

// imagePin splits an image reference into its tag and digest, either of
// which may be empty.
func imagePin(image string) (tag, digest string) {
	if i := strings.Index(image, "@"); i >= 0 {
		image, digest = image[:i], image[i+1:]
	}
	// A colon before the last slash belongs to a registry host:port.
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		tag = image[i+1:]
	}
	return tag, digest
}

func requirePinned(t *testing.T, image string) {
	t.Helper()
	tag, digest := imagePin(image)
	if digest != "" {
		return
	}
	require.NotEmpty(t, tag, "image %s has no tag: it pulls whatever latest is", image)
	require.False(t, tag == "latest" || strings.HasPrefix(tag, "latest-"), "image %s is not pinned", image)
}

// hostFile maps a path inside s's container to the repository file behind it
// through s's bind mounts, as the local cluster does.
var hostFile = cluster.HostFile

func TestComposeLoadsWithRequiredServices(t *testing.T) {
	p := loadProject(t, nil)
	for _, name := range []string{"postgresql", "temporal", "temporal-ui", "worker", "starter"} {
		service(t, p, name)
	}
	for name, s := range p.Services {
		require.True(t, s.Image != "" || s.Build != nil, "service %s has neither image nor build", name)
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	p := loadProject(t, nil)
	for name, s := range p.Services {
		t.Run(name, func(t *testing.T) {
			if s.Build != nil {
				return // built here, from the pinned Dockerfile
			}
			requirePinned(t, s.Image)
		})
	}
}

func TestCoursehookServicesBuildFromTheDockerfile(t *testing.T) {
	p := loadProject(t, nil)
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	installed := readDockerfile(t).installedBinaries()

	for name, binary := range coursehookServices {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			require.NotNil(t, s.Build, "%s is not built", name)
			require.Equal(t, root, s.Build.Context, "%s is not built from the repository root", name)
			dockerfile := s.Build.Dockerfile
			if !filepath.IsAbs(dockerfile) {
				dockerfile = filepath.Join(s.Build.Context, dockerfile)
			}
			require.Equal(t, filepath.Join(root, "Dockerfile"), dockerfile)

			require.NotEmpty(t, s.Command, "%s must choose its binary with command:", name)
			require.Equal(t, binary, s.Command[0], "%s runs the wrong binary", name)
			require.True(t, installed[binary], "the Dockerfile does not install %s", binary)
			require.Equal(t, types.RestartPolicyUnlessStopped, s.Restart)
		})
	}
}

func TestCoursehookServicesReachTemporal(t *testing.T) {
	p := loadProject(t, nil)
	namespaceJob := service(t, p, "temporal-create-namespace")
	wantNamespace := requireEnv(t, namespaceJob, "TEMPORAL_NAMESPACE")

	for name := range coursehookServices {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			host, port, err := net.SplitHostPort(requireEnv(t, s, "TEMPORAL_ADDRESS"))
			require.NoError(t, err)
			temporal := service(t, p, host)
			require.Equal(t, "temporal", temporal.Name)
			// The frontend's port is the one the temporal service publishes.
			n, err := strconv.ParseUint(port, 10, 32)
			require.NoError(t, err)
			_, ok := published(temporal, uint32(n))
			require.True(t, ok, "TEMPORAL_ADDRESS port %s is not the temporal service's frontend port", port)

			require.Equal(t, wantNamespace, requireEnv(t, s, "TEMPORAL_NAMESPACE"),
				"%s uses a namespace the namespace job does not create", name)
			require.Equal(t, workflows.TaskQueue, requireEnv(t, s, "TEMPORAL_TASK_QUEUE"))
		})
	}
}

// requireDatabaseURL checks that raw points at the coursehook database on the
// postgresql service and returns its password.
func requireDatabaseURL(t *testing.T, p *types.Project, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err, "DATABASE_URL is not a URL")
	require.Contains(t, []string{"postgres", "postgresql"}, u.Scheme)
	require.Equal(t, "postgresql", u.Hostname(), "DATABASE_URL must point at the postgresql service")
	service(t, p, u.Hostname())
	require.Equal(t, "5432", u.Port())
	require.Equal(t, "/coursehook", u.Path, "coursehook has its own database")
	require.Equal(t, "coursehook", u.User.Username())
	require.Equal(t, "disable", u.Query().Get("sslmode"), "the local server has no TLS")
	password, ok := u.User.Password()
	require.True(t, ok, "DATABASE_URL has no password")
	return password
}

func TestWorkerUsesTheCoursehookDatabase(t *testing.T) {
	p := loadProject(t, nil)
	requireDatabaseURL(t, p, requireEnv(t, service(t, p, "worker"), "DATABASE_URL"))
	// Any other service given the database must get the same one.
	for name, s := range p.Services {
		if raw, ok := envValue(s, "DATABASE_URL"); ok {
			t.Run(name, func(t *testing.T) { requireDatabaseURL(t, p, raw) })
		}
	}
}

func TestDatabasePasswordsAgree(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"defaults", nil},
		{"overridden", map[string]string{
			"POSTGRES_PASSWORD":      "admin-secret",
			"TEMPORAL_DB_PASSWORD":   "temporal-secret",
			"COURSEHOOK_DB_PASSWORD": "coursehook-secret",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadProject(t, tc.env)
			pg := service(t, p, "postgresql")
			temporalPassword := requireEnv(t, pg, "TEMPORAL_DB_PASSWORD")
			coursehookPassword := requireEnv(t, pg, "COURSEHOOK_DB_PASSWORD")
			if tc.env != nil {
				require.Equal(t, tc.env["POSTGRES_PASSWORD"], requireEnv(t, pg, "POSTGRES_PASSWORD"))
				require.Equal(t, tc.env["TEMPORAL_DB_PASSWORD"], temporalPassword)
				require.Equal(t, tc.env["COURSEHOOK_DB_PASSWORD"], coursehookPassword)
			}
			for _, name := range []string{"temporal", "temporal-schema"} {
				require.Equal(t, temporalPassword, requireEnv(t, service(t, p, name), "POSTGRES_PWD"),
					"%s logs in with a password the init script did not set", name)
			}
			worker := service(t, p, "worker")
			require.Equal(t, coursehookPassword, requireDatabaseURL(t, p, requireEnv(t, worker, "DATABASE_URL")),
				"the worker logs in with a password the init script did not set")
		})
	}
}

// coursehookBinaries say which settings each service's binary loads.
var coursehookBinaries = map[string]config.Binary{
	"worker":  config.Worker,
	"starter": config.Starter,
}

// coursehookVariables records every variable config.Load reads for b, which
// is every variable that binary reads.
func coursehookVariables(t *testing.T, b config.Binary) map[string]bool {
	t.Helper()
	read := map[string]bool{}
	_, err := config.Load(func(name string) string {
		read[name] = true
		return ""
	}, b)
	require.NoError(t, err, "the defaults must load")
	require.True(t, read["TEMPORAL_ADDRESS"], "config.Load read only %v", slices.Sorted(maps.Keys(read)))
	return read
}

func TestCoursehookEnvironmentIsKnown(t *testing.T) {
	p := loadProject(t, nil)
	for name := range coursehookServices {
		t.Run(name, func(t *testing.T) {
			known := coursehookVariables(t, coursehookBinaries[name])
			for variable := range service(t, p, name).Environment {
				require.True(t, known[variable], "%s sets %s, which its binary never reads (a typo, or the other binary's setting?)", name, variable)
			}
		})
	}
}

func TestSecretsComeFromTheHostEnvironment(t *testing.T) {
	// Each service's secrets, with a value to pass in from the host.
	secrets := map[string]map[string]string{
		"worker": {
			"SLACK_BOT_TOKEN":  "xoxb-test",
			"SLACK_CHANNEL":    "#certificates",
			"SENDGRID_API_KEY": "SG.test",
			"EMAIL_FROM":       "certificates@example.org",
		},
		"starter": {
			"WEBHOOK_SECRET": "0123456789abcdef-test",
		},
	}
	host := map[string]string{}
	for _, vars := range secrets {
		maps.Copy(host, vars)
	}
	unset := loadProject(t, nil)
	set := loadProject(t, host)

	for name, vars := range secrets {
		t.Run(name, func(t *testing.T) {
			// Unset on the host: set but empty in the container, which
			// config reads as unset (outbox mode, no URL secret).
			s := service(t, unset, name)
			for variable := range vars {
				v, ok := envValue(s, variable)
				require.True(t, ok, "%s does not pass %s through", name, variable)
				require.Empty(t, v, "%s has a committed value for %s", name, variable)
			}

			s = service(t, set, name)
			for variable, want := range vars {
				require.Equal(t, want, requireEnv(t, s, variable))
			}
			// Nobody gets another service's secrets.
			for other, otherVars := range secrets {
				if other == name {
					continue
				}
				for variable := range otherVars {
					_, ok := envValue(s, variable)
					require.False(t, ok, "%s gets %s, which only %s needs", name, variable, other)
				}
			}
		})
	}
	require.NotEmpty(t, requireEnv(t, service(t, unset, "worker"), "OUTBOX_DIR"))
	_, ok := envValue(service(t, unset, "starter"), "DATABASE_URL")
	require.False(t, ok, "the starter never opens the database")
}

func TestPublishedPorts(t *testing.T) {
	p := loadProject(t, nil)
	for _, tc := range []struct {
		service   string
		target    uint32
		published string
	}{
		{"starter", 8080, "8080"},
		{"temporal-ui", 8080, "8233"},
		{"temporal", 7233, "7233"},
	} {
		t.Run(tc.service, func(t *testing.T) {
			got, ok := published(service(t, p, tc.service), tc.target)
			require.True(t, ok, "%s does not publish container port %d", tc.service, tc.target)
			require.Equal(t, tc.published, got)
		})
	}
	starter := service(t, p, "starter")
	require.Equal(t, requireEnv(t, starter, "HTTP_ADDR"), ":8080", "the starter must listen on the port it publishes")
}

func TestStartOrder(t *testing.T) {
	p := loadProject(t, nil)
	requireDependency := func(t *testing.T, from, to, condition string) {
		t.Helper()
		dep, ok := service(t, p, from).DependsOn[to]
		require.True(t, ok, "%s does not depend on %s", from, to)
		require.Equal(t, condition, dep.Condition, "%s depends on %s with the wrong condition", from, to)
	}

	requireDependency(t, "temporal", "postgresql", types.ServiceConditionHealthy)
	temporalReady := types.ServiceConditionStarted
	if hasHealthcheck(service(t, p, "temporal")) {
		temporalReady = types.ServiceConditionHealthy
	}
	for name := range coursehookServices {
		requireDependency(t, name, "temporal", temporalReady)
	}
	requireDependency(t, "worker", "postgresql", types.ServiceConditionHealthy)

	// Conditions that can never be met hang `docker compose up`.
	for name, s := range p.Services {
		for to, dep := range s.DependsOn {
			target := service(t, p, to)
			switch dep.Condition {
			case types.ServiceConditionHealthy:
				require.True(t, hasHealthcheck(target), "%s waits for %s to be healthy, but it has no healthcheck", name, to)
			case types.ServiceConditionCompletedSuccessfully:
				require.NotContains(t, []string{types.RestartPolicyAlways, types.RestartPolicyUnlessStopped}, target.Restart,
					"%s waits for %s to complete, but it restarts forever", name, to)
			}
		}
	}
}

func TestGracefulShutdownFitsTheGracePeriod(t *testing.T) {
	p := loadProject(t, nil)
	for name := range coursehookServices {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			timeout, err := time.ParseDuration(requireEnv(t, s, "SHUTDOWN_TIMEOUT"))
			require.NoError(t, err)
			require.NotNil(t, s.StopGracePeriod, "%s keeps Docker's 10s grace period", name)
			require.Greater(t, time.Duration(*s.StopGracePeriod), timeout,
				"Docker kills %s before its SHUTDOWN_TIMEOUT is up", name)
		})
	}
}

func TestMountedFilesExist(t *testing.T) {
	p := loadProject(t, nil)
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	requireRepoFile := func(t *testing.T, path string) {
		t.Helper()
		require.True(t, strings.HasPrefix(path, root+string(filepath.Separator)), "%s is outside the repository", path)
		_, err := os.Stat(path)
		require.NoError(t, err)
	}

	for name, s := range p.Services {
		t.Run(name, func(t *testing.T) {
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeBind {
					requireRepoFile(t, v.Source)
				}
			}
			// Scripts the entrypoint or command runs: no image here ships
			// one, so each must come from the repository through a mount.
			for _, arg := range slices.Concat(s.Entrypoint, s.Command) {
				if !strings.HasSuffix(arg, ".sh") {
					continue
				}
				file, ok := hostFile(s, arg)
				require.True(t, ok, "%s runs %s, which no mount provides", name, arg)
				requireRepoFile(t, file)
			}
		})
	}

	temporal := service(t, p, "temporal")
	file, ok := hostFile(temporal, requireEnv(t, temporal, "DYNAMIC_CONFIG_FILE_PATH"))
	require.True(t, ok, "DYNAMIC_CONFIG_FILE_PATH is not inside a mount from the repository")
	requireRepoFile(t, file)

	pg := service(t, p, "postgresql")
	var initScripts int
	for _, v := range pg.Volumes {
		if strings.HasPrefix(v.Target, "/docker-entrypoint-initdb.d/") {
			initScripts++
		}
	}
	require.Positive(t, initScripts, "nothing creates the coursehook database")
}
