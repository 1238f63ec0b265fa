package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cluster test runs `tfprep convert` as a cluster does: Prism as a separate job server, the
// launcher as a separate process submitting with --runner=universal, and the workers as separate
// processes (--environment_type=PROCESS) started by Prism through Beam's Go boot program, which
// fetches the staged worker binary from the job server and runs it. Nothing is shared with the
// launcher but the job server's API and the filesystem holding the data.
//
// Prism's job server listens on all interfaces (cmd/prism has no address flag), so it runs in a
// network namespace of its own (unshare -n) whose only interface is loopback; the launchers enter
// that namespace (nsenter --net), and the workers inherit it from Prism.

// Paths of the tools the cluster test builds, once per test binary.
type clusterTools struct {
	dir     string
	static  string // tfprep as `make build` / `make worker` build it on linux/amd64: cgo, static
	pureGo  string // tfprep built with CGO_ENABLED=0 (static, pure-Go decoder)
	prism   string
	boot    string // Beam's Go SDK container boot program
	wrapper string // the PROCESS environment's command: strips Prism's quotes and execs boot
}

// staticFlags are the Makefile's STATIC flags.
var staticFlags = []string{"-tags", "netgo,osusergo", "-ldflags", `-linkmode external -extldflags "-static"`}

// buildClusterTools builds tfprep twice (static cgo, pure Go), Prism and the boot program from the
// Beam module in go.mod, and writes the PROCESS wrapper, all into a temporary directory.
func buildClusterTools(t *testing.T) clusterTools {
	t.Helper()
	dir := t.TempDir()
	tools := clusterTools{
		dir:     dir,
		static:  filepath.Join(dir, "tfprep-static"),
		pureGo:  filepath.Join(dir, "tfprep-purego"),
		prism:   filepath.Join(dir, "prism"),
		boot:    filepath.Join(dir, "boot"),
		wrapper: filepath.Join(dir, "worker.sh"),
	}
	builds := []struct {
		out  string
		env  []string
		args []string
	}{
		{tools.static, []string{"CGO_ENABLED=1"}, append(slices.Clone(staticFlags), "./cmd/tfprep")},
		{tools.pureGo, []string{"CGO_ENABLED=0"}, []string{"./cmd/tfprep"}},
		{tools.prism, []string{"CGO_ENABLED=0"}, []string{"github.com/apache/beam/sdks/v2/go/cmd/prism"}},
		{tools.boot, []string{"CGO_ENABLED=0"}, []string{"github.com/apache/beam/sdks/v2/go/container"}},
	}
	for _, b := range builds {
		cmd := exec.Command("go", append([]string{"build", "-o", b.out}, b.args...)...)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", strings.Join(b.args, " "), err, out)
		}
	}
	// Prism v2.77.0 starts the command as `command --id='ID' --provision_endpoint=...`, with the
	// quotes inside the argument (prism/internal/environments.go:317); boot wants the bare ID.
	// Boot writes pipeline_options.json in its working directory and the staged files under
	// --semi_persist_dir; both stay in the test's directory.
	script := fmt.Sprintf(`#!/bin/sh
id=${1#--id=}
id=${id#\'}
id=${id%%\'}
shift
mkdir -p %[1]s/persist && cd %[1]s && exec %[2]s --id="$id" --semi_persist_dir=%[1]s/persist "$@"
`, dir, tools.boot)
	if err := os.WriteFile(tools.wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return tools
}

// jobServer is Prism running as a job server in its own loopback-only network namespace.
type jobServer struct {
	cmd      *exec.Cmd
	endpoint string
	stderr   *bytes.Buffer
}

const prismPort = 8099 // free: the namespace is new

// startJobServer starts Prism in a new network namespace with only loopback up. Prism, and every
// worker it starts, form one process group, which the cleanup kills.
func startJobServer(t *testing.T, tools clusterTools) *jobServer {
	t.Helper()
	unshare := []string{"unshare", "--net"}
	if os.Geteuid() != 0 {
		unshare = []string{"unshare", "--map-root-user", "--net"}
	}
	for _, tool := range []string{"unshare", "nsenter", "ip", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the cluster test needs %s (util-linux, iproute2, bash): %v", tool, err)
		}
	}
	args := append(unshare[1:], "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`,
		tools.prism, fmt.Sprintf("--job_port=%d", prismPort), "--serve_http=false", "--log_level=warn")
	s := &jobServer{cmd: exec.Command(unshare[0], args...), endpoint: fmt.Sprintf("localhost:%d", prismPort), stderr: new(bytes.Buffer)}
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("Prism and workers' output:\n%s", s.stderr)
		}
	})
	// Prism has exec'ed once the namespace exists and loopback is up; wait for its port.
	deadline := time.Now().Add(time.Minute)
	for {
		probe := exec.Command("nsenter", "--net=/proc/"+fmt.Sprint(s.cmd.Process.Pid)+"/ns/net", "--",
			"bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", prismPort))
		if probe.Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prism did not listen on %s within a minute:\n%s", s.endpoint, s.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// launch runs a tfprep launcher inside the job server's network namespace and returns its exit
// code and output.
func (s *jobServer) launch(t *testing.T, binary string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	nsArgs := append([]string{"--net=/proc/" + fmt.Sprint(s.cmd.Process.Pid) + "/ns/net", "--", binary}, args...)
	return runCode(t, exec.Command("nsenter", nsArgs...))
}

func runCode(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// removeStagedCopies removes the /tmp/bin* directories that boot created for this test's workers:
// boot copies the staged binary to a fresh /tmp/binNNN/worker (a fixed path in boot.go) and never
// removes it. Only directories that did not exist before and hold one of binaries are removed.
func removeStagedCopies(t *testing.T, before map[string]bool, binaries ...string) {
	t.Helper()
	ours := map[string]bool{}
	for _, b := range binaries {
		ours[fileSHA256(t, b)] = true
	}
	dirs, _ := filepath.Glob("/tmp/bin*")
	for _, d := range dirs {
		worker := filepath.Join(d, "worker")
		if before[d] {
			continue
		}
		if _, err := os.Stat(worker); err == nil && ours[fileSHA256(t, worker)] {
			os.RemoveAll(d)
		}
	}
}

func stagedCopies() map[string]bool {
	dirs, _ := filepath.Glob("/tmp/bin*")
	m := map[string]bool{}
	for _, d := range dirs {
		m[d] = true
	}
	return m
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// demoArgs are the arguments of every demo conversion: the same data, splits, shards and seed
// give byte-identical shards on every runner. The paths are absolute: workers run elsewhere.
func demoArgs(out string) []string {
	csv, _ := filepath.Abs(demoCSV)
	images, _ := filepath.Abs(demoImages)
	return []string{"convert", "--spec", "planet", "--csv", csv, "--images", images, "--out", out,
		"--splits", "train=0.8,validation=0.2", "--shards", "2", "--seed", "7", "--quiet"}
}

// manifestFacts is what must agree between two conversions of the same data.
type manifestFacts struct {
	Decoder string `json:"decoder"`
	Splits  []struct {
		Name    string `json:"name"`
		Records int64  `json:"records"`
		Shards  []struct {
			File   string `json:"file"`
			CRC32C string `json:"crc32c"`
		} `json:"shards"`
	} `json:"splits"`
	Rows struct {
		Read, Written, Rejected int64
	} `json:"rows"`
}

func readFacts(t *testing.T, dir string) manifestFacts {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifestFacts
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s/dataset.json: %v", dir, err)
	}
	return m
}

// sameOutput fails the test unless every shard and errors.csv in got are byte-identical to want's,
// and both manifests list the same shards with the same hashes.
func sameOutput(t *testing.T, want, got string) {
	t.Helper()
	wantFacts, gotFacts := readFacts(t, want), readFacts(t, got)
	wantFacts.Decoder, gotFacts.Decoder = "", ""
	if w, g := fmt.Sprint(wantFacts), fmt.Sprint(gotFacts); w != g {
		t.Errorf("manifests differ:\nwant %s\ngot  %s", w, g)
	}
	names, err := filepath.Glob(filepath.Join(want, "*.tfrecord"))
	if err != nil || len(names) != 4 {
		t.Fatalf("reference has shards %v (%v), want 4", names, err)
	}
	for _, name := range append(names, filepath.Join(want, "errors.csv")) {
		base := filepath.Base(name)
		w, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := os.ReadFile(filepath.Join(got, base))
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		if !bytes.Equal(w, g) {
			t.Errorf("%s differs from the in-process conversion's (%d and %d bytes)", base, len(g), len(w))
		}
	}
}

// TestCluster converts the demo data (100 generated chips and 2 real 4-component Planet chips) on a
// Prism job server with PROCESS workers and compares every byte with an in-process conversion; the
// workers' pixels are then read back by Python and compared with Keras/PIL's when Python is there.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tfprep, Prism and Beam's boot program and runs a job server; skipped with -short")
	}
	tools := buildClusterTools(t)
	dynamic := tfprep(t) // the ambient `go build`: cgo, dynamically linked, cannot be a worker
	server := startJobServer(t, tools)
	before := stagedCopies()
	t.Cleanup(func() { removeStagedCopies(t, before, tools.static, tools.pureGo) })

	reference := filepath.Join(t.TempDir(), "reference")
	if code, _, stderr := runCode(t, exec.Command(dynamic, demoArgs(reference)...)); code != 0 {
		t.Fatalf("in-process conversion: exit %d\n%s", code, stderr)
	}
	if d := readFacts(t, reference).Decoder; isPureGo(d) {
		t.Fatalf("the ambient build decodes with %s; the cluster test needs libjpeg-turbo (cgo)", d)
	}
	process := func(command string) []string {
		return []string{"--runner=universal", "--endpoint=" + server.endpoint, "--environment_type=PROCESS",
			fmt.Sprintf(`--environment_config={"command": %q}`, command)}
	}
	convertOn := func(t *testing.T, launcher string, extra ...string) (dir string, code int, stderr string) {
		dir = filepath.Join(t.TempDir(), "out")
		code, _, stderr = server.launch(t, launcher, append(append(demoArgs(dir), process(tools.wrapper)...), extra...)...)
		return dir, code, stderr
	}
	pythonCheck := func(t *testing.T, dir string, pureGo bool) {
		t.Run("python", func(t *testing.T) {
			requirePython(t)
			got, err := readLikeSeed(t, dir, pureGo)
			if err != nil {
				t.Fatal(err)
			}
			if got.Records != demoRows(t) || got.ImageMismatches != 0 || got.LabelMismatches != 0 || (!pureGo && got.MaxLevels != 0) {
				t.Errorf("read_like_seed.py: %+v, want %d records, no mismatch", got, demoRows(t))
			}
		})
	}

	t.Run("auto-staged cgo worker", func(t *testing.T) {
		dir, code, stderr := convertOn(t, tools.static)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if d := readFacts(t, dir).Decoder; !strings.Contains(d, "libjpeg-turbo") {
			t.Errorf("got decoder %q, want libjpeg-turbo (the workers ran the staged static binary)", d)
		}
		sameOutput(t, reference, dir)
		pythonCheck(t, dir, false)
	})
	t.Run("explicit worker binary", func(t *testing.T) {
		// The usual split: the launcher is any build, the workers get `make worker`'s binary.
		dir, code, stderr := convertOn(t, dynamic, "--worker_binary="+tools.static)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if d := readFacts(t, dir).Decoder; !strings.Contains(d, "libjpeg-turbo") {
			t.Errorf("got decoder %q, want libjpeg-turbo", d)
		}
		sameOutput(t, reference, dir)
	})
	t.Run("refused without a cgo worker", func(t *testing.T) {
		for _, launcher := range []string{dynamic, tools.pureGo} {
			dir, code, stderr := convertOn(t, launcher)
			if code != 2 {
				t.Errorf("%s: got exit %d, want 2 (refused)\n%s", filepath.Base(launcher), code, stderr)
			}
			for _, want := range []string{"make worker", "--worker_binary=", "--allow-approximate-pixels"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("%s: the refusal does not say %q:\n%s", filepath.Base(launcher), want, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "dataset.json")); err == nil {
				t.Errorf("%s: a refused job wrote a manifest", filepath.Base(launcher))
			}
		}
		_, code, stderr := convertOn(t, tools.static, "--worker_binary="+tools.pureGo)
		if code != 2 || !strings.Contains(stderr, "built without cgo") {
			t.Errorf("pure-Go --worker_binary: got exit %d, want 2 naming cgo\n%s", code, stderr)
		}
	})
	t.Run("approximate pixels accepted and recorded", func(t *testing.T) {
		dir, code, stderr := convertOn(t, tools.pureGo, "--allow-approximate-pixels")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if d := readFacts(t, dir).Decoder; !isPureGo(d) {
			t.Errorf("got decoder %q, want the pure-Go decoder recorded", d)
		}
		// The byte comparison sees the pure-Go pixels: the shards' hashes differ.
		if fmt.Sprint(readFacts(t, dir).Splits) == fmt.Sprint(readFacts(t, reference).Splits) {
			t.Error("pure-Go workers wrote the same shards as libjpeg-turbo")
		}
		pythonCheck(t, dir, true)
	})
	t.Run("no worker starts", func(t *testing.T) {
		code, _, stderr := server.launch(t, tools.static, append(append(demoArgs(filepath.Join(t.TempDir(), "out")),
			process("/bin/false")...), "--worker-timeout=5s")...)
		if code != 1 {
			t.Errorf("got exit %d, want 1\n%s", code, stderr)
		}
		// The watchdog cancels the job after 5s, or the job server fails it
		// sooner (Prism does when the worker command exits at once): either
		// way the error says no worker started and names where to look.
		wants := []string{"no worker started", server.endpoint, "PROCESS", "/bin/false"}
		if strings.Contains(stderr, "within 5s") {
			wants = append(wants, "--worker-timeout")
		} else {
			wants = append(wants, "before any worker reported progress")
		}
		for _, want := range wants {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})
}

// TestWorkerBinaryChecks checks --worker_binary before a Dataflow dry run submits nothing: a
// missing file, a program that is not tfprep, a dynamically linked tfprep, a pure-Go one.
func TestWorkerBinaryChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tfprep twice; skipped with -short")
	}
	dynamic := tfprep(t)
	dir := t.TempDir()
	pureGo := filepath.Join(dir, "tfprep-purego")
	cmd := exec.Command("go", "build", "-o", pureGo, "./cmd/tfprep")
	cmd.Dir, cmd.Env = moduleRoot, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		worker string
		want   []string
	}{
		{"/nonexistent/tfprep", []string{"/nonexistent/tfprep: does not exist"}},
		{"/bin/sh", []string{"not a Go program"}},
		{demoCSV, []string{"not a Linux (ELF) executable"}},
		{dynamic, []string{"dynamically linked"}},
		{pureGo, []string{"built without cgo"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.worker), func(t *testing.T) {
			code, _, stderr := runCode(t, dryRun(t, dynamic, "--csv", demoCSV, "--images", demoImages, "--out", filepath.Join(t.TempDir(), "out"), "--worker_binary="+tt.worker))
			if code != 2 {
				t.Errorf("got exit %d, want 2\n%s", code, stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// dryRun is a Dataflow dry run of tfprep convert with credentials that cannot be loaded, so that
// no packet leaves the machine (see internal/cli's TestConvertDataflowDryRun).
func dryRun(t *testing.T, binary string, args ...string) *exec.Cmd {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(binary, append([]string{"convert", "--runner=dataflow", "--dry_run", "--project=tfprep-test",
		"--region=europe-west1", "--staging_location=gs://tfprep-test/staging"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "CLOUDSDK_CONFIG="+home,
		"GOOGLE_APPLICATION_CREDENTIALS="+filepath.Join(home, "no-credentials.json"))
	return cmd
}

// TestDryRunUnreachableStorage points gs:// at a server on loopback that accepts connections and
// never answers, as storage behind a dropping firewall does: the dry run must fail, naming the
// object, instead of hanging.
func TestDryRunUnreachableStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tfprep; skipped with -short")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-accepted
		for _, c := range held {
			c.Close()
		}
	})
	cmd := dryRun(t, tfprep(t), "--csv", "gs://tfprep-test/planet.csv", "--images", "gs://tfprep-test/train-jpg",
		"--out", "gs://tfprep-test/out", "--allow-approximate-pixels", "--storage-timeout=2s")
	cmd.Env = append(cmd.Env, "STORAGE_EMULATOR_HOST="+l.Addr().String())
	code, _, stderr := runCode(t, cmd)
	if code != 1 {
		t.Errorf("got exit %d, want 1\n%s", code, stderr)
	}
	if want := "gs://tfprep-test/planet.csv did not answer within 2s"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}
