package deploy

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	dockerfilePath   = "../Dockerfile"
	dockerignorePath = "../.dockerignore"
	// binDir is where the final stage installs the binaries; compose runs
	// them from there.
	binDir = "/usr/local/bin"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined: Cmd is upper-case ("RUN"), Args the rest of the line.
type instruction struct {
	Cmd  string
	Args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	Image        string
	Name         string
	Instructions []instruction
}

// dockerfile is the Dockerfile read as text, which is all these checks need.
type dockerfile struct {
	// Args are the ARG defaults declared before the first FROM, the only
	// ones a FROM line can use.
	Args   map[string]string
	Stages []stage
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })

	var lines []string
	var pending strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending.Len() == 0) {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(body + " ")
			continue
		}
		pending.WriteString(line)
		lines = append(lines, pending.String())
		pending.Reset()
	}
	require.NoError(t, sc.Err())
	require.Zero(t, pending.Len(), "the Dockerfile ends inside a continued line")

	d := dockerfile{Args: map[string]string{}}
	for _, line := range lines {
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		switch {
		case in.Cmd == "FROM":
			var fields []string
			for _, f := range strings.Fields(in.Args) {
				if !strings.HasPrefix(f, "--") {
					fields = append(fields, f)
				}
			}
			require.NotEmpty(t, fields, "FROM without an image: %q", line)
			s := stage{Image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.Name = fields[2]
			}
			d.Stages = append(d.Stages, s)
		case len(d.Stages) == 0:
			if in.Cmd == "ARG" {
				name, value, _ := strings.Cut(in.Args, "=")
				d.Args[name] = value
			}
		default:
			last := &d.Stages[len(d.Stages)-1]
			last.Instructions = append(last.Instructions, in)
		}
	}
	require.NotEmpty(t, d.Stages, "the Dockerfile has no FROM")
	return d
}

// image returns s's base image with the global ARG defaults substituted.
func (d dockerfile) image(s stage) string {
	return os.Expand(s.Image, func(name string) string { return d.Args[name] })
}

func (d dockerfile) final() stage { return d.Stages[len(d.Stages)-1] }

// goBuild is one `go build` command found in a RUN instruction.
type goBuild struct {
	Command string
	Package string
	Output  string
	Stage   stage
}

// Patterns for reading a `go build` command: its -o value, its package (a
// final ./path argument) and a CGO_ENABLED=0 assignment.
var (
	outputFlag  = regexp.MustCompile(`(?:^|\s)-o[= ](\S+)`)
	packageArg  = regexp.MustCompile(`\s(\./\S+)\s*$`)
	cgoDisabled = regexp.MustCompile(`(?:^|\s)CGO_ENABLED=0(?:\s|$)`)
)

// goBuilds lists every `go build` in every RUN, one per &&-separated command.
func (d dockerfile) goBuilds() []goBuild {
	var out []goBuild
	for _, s := range d.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "RUN" {
				continue
			}
			for cmd := range strings.SplitSeq(in.Args, "&&") {
				if !strings.Contains(cmd, "go build") {
					continue
				}
				b := goBuild{Command: strings.TrimSpace(cmd), Stage: s}
				if m := outputFlag.FindStringSubmatch(cmd); m != nil {
					b.Output = m[1]
				}
				if m := packageArg.FindStringSubmatch(cmd); m != nil {
					b.Package = m[1]
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// installedBinaries returns the paths under binDir that the final stage
// copies in, by base name of the build outputs it copies.
func (d dockerfile) installedBinaries() map[string]bool {
	outputs := map[string]bool{}
	for _, b := range d.goBuilds() {
		if b.Output != "" {
			outputs[b.Output] = true
		}
	}
	installed := map[string]bool{}
	for _, in := range d.final().Instructions {
		if in.Cmd != "COPY" {
			continue
		}
		fields := strings.Fields(in.Args)
		dest := fields[len(fields)-1]
		if strings.TrimSuffix(dest, "/") != binDir {
			continue
		}
		for _, src := range fields[:len(fields)-1] {
			if outputs[src] {
				installed[path.Join(binDir, path.Base(src))] = true
			}
		}
	}
	return installed
}

func TestDockerfileBuildsBothBinariesStatically(t *testing.T) {
	d := readDockerfile(t)
	builds := d.goBuilds()
	for _, pkg := range []string{"./worker", "./starter"} {
		t.Run(pkg, func(t *testing.T) {
			var found *goBuild
			for i := range builds {
				if builds[i].Package == pkg {
					found = &builds[i]
				}
			}
			require.NotNil(t, found, "no `go build ... %s` in the Dockerfile", pkg)
			require.Contains(t, found.Command, "-trimpath")
			require.Contains(t, found.Command, `-ldflags="-s -w"`)
			require.NotEmpty(t, found.Output, "the build of %s has no -o", pkg)

			// CGO_ENABLED=0 either on the command or as an ENV of its stage.
			cgoOff := cgoDisabled.MatchString(found.Command)
			for _, in := range found.Stage.Instructions {
				if in.Cmd == "ENV" && cgoDisabled.MatchString(in.Args) {
					cgoOff = true
				}
			}
			require.True(t, cgoOff, "%s is not built with CGO_ENABLED=0", pkg)

			want := path.Join(binDir, "coursehook-"+strings.TrimPrefix(pkg, "./"))
			require.True(t, d.installedBinaries()[want], "the final stage does not install %s", want)
		})
	}
}

func TestDockerfileDownloadsModulesInTheirOwnLayer(t *testing.T) {
	d := readDockerfile(t)
	var build stage
	for _, b := range d.goBuilds() {
		build = b.Stage
	}
	require.NotEmpty(t, build.Instructions, "no stage runs go build")

	step := func(match func(instruction) bool) int {
		for i, in := range build.Instructions {
			if match(in) {
				return i
			}
		}
		return -1
	}
	copyModFiles := step(func(in instruction) bool {
		return in.Cmd == "COPY" && strings.Contains(in.Args, "go.mod") && strings.Contains(in.Args, "go.sum")
	})
	download := step(func(in instruction) bool { return in.Cmd == "RUN" && strings.Contains(in.Args, "go mod download") })
	copySources := step(func(in instruction) bool { return in.Cmd == "COPY" && strings.HasPrefix(in.Args, ". ") })
	require.GreaterOrEqual(t, copyModFiles, 0, "go.mod and go.sum are not copied on their own")
	require.Greater(t, download, copyModFiles, "go mod download must follow COPY go.mod go.sum")
	require.Greater(t, copySources, download, "COPY . . must follow go mod download, or every edit re-downloads the modules")
}

func TestDockerfileFinalStageRunsAsNonRoot(t *testing.T) {
	d := readDockerfile(t)
	final := d.final()
	user := ""
	for _, in := range final.Instructions {
		if in.Cmd == "USER" {
			user = in.Args
		}
	}
	if user == "" {
		tag, _ := imagePin(d.image(final))
		require.Contains(t, tag, "nonroot", "the final stage sets no USER and its base image %s is not a nonroot one", final.Image)
		return
	}
	name, _, _ := strings.Cut(user, ":")
	require.NotContains(t, []string{"root", "0"}, name, "the final stage runs as %q", user)
}

func TestDockerfileBaseImagesArePinned(t *testing.T) {
	d := readDockerfile(t)
	names := map[string]bool{}
	for _, s := range d.Stages {
		image := d.image(s)
		if names[image] {
			continue // FROM an earlier stage
		}
		requirePinned(t, image)
		if s.Name != "" {
			names[s.Name] = true
		}
	}
}

func TestDockerignoreKeepsLocalStateOut(t *testing.T) {
	raw, err := os.ReadFile(dockerignorePath)
	require.NoError(t, err)
	patterns := map[string]bool{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns[filepath.Clean(strings.TrimPrefix(line, "/"))] = true
		}
	}
	// bin/ holds a 250 MB Temporal binary; .data/ local databases and outbox.
	for _, p := range []string{"bin", ".data", ".git"} {
		require.True(t, patterns[p], ".dockerignore does not exclude %s", p)
	}
}
