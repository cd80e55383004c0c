package main

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/patchring/patchring"

type goPackage struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
	Standard   bool
}

// listPackages runs `go list -deps -json` over the module for one GOOS.
func listPackages(t *testing.T, goos string) map[string]*goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*goPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

// TestDependencyDirection enforces the architecture in docs/architecture.md.
func TestDependencyDirection(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			pkgs := listPackages(t, goos)
			internal := func(name string) string { return module + "/internal/" + name }
			// Packages that may import only the standard library.
			stdlibOnly := []string{"patch", "agentapi", "pkgmgr"}
			// Pure packages: no database, network, process or file I/O.
			pure := []string{"patch", "schedule", "evidence", "policy", "compliance", "rollout"}
			forbiddenInPure := []string{"database/sql", "net", "net/http", "os/exec", "os"}
			for _, name := range stdlibOnly {
				p := pkgs[internal(name)]
				if p == nil {
					continue
				}
				for _, imp := range p.Imports {
					if !isStd(imp) {
						t.Errorf("%s imports %s; it may import only the standard library", name, imp)
					}
				}
			}
			for _, name := range pure {
				p := pkgs[internal(name)]
				if p == nil {
					continue
				}
				for _, imp := range p.Imports {
					if slices.Contains(forbiddenInPure, imp) {
						t.Errorf("%s imports %s; it must stay free of I/O", name, imp)
					}
				}
			}
			// The agent never links the server, storage, API or console.
			if agent := pkgs[internal("agent")]; agent != nil {
				for _, dep := range agent.Deps {
					for _, banned := range []string{"server", "sqlstore", "sqlite", "postgres", "httpapi", "web", "demo"} {
						if dep == internal(banned) {
							t.Errorf("the agent links %s", banned)
						}
					}
				}
			}
			for path, p := range pkgs {
				for _, imp := range p.Imports {
					if strings.HasPrefix(imp, module+"/cmd/") {
						t.Errorf("%s imports the command package %s", path, imp)
					}
				}
				switch path {
				case internal("sqlite"), internal("postgres"):
					for _, imp := range p.Imports {
						if imp == internal("sqlite") || imp == internal("postgres") || imp == internal("server") || imp == internal("httpapi") {
							t.Errorf("%s imports %s", path, imp)
						}
					}
				case internal("sqlstore"):
					for _, imp := range p.Imports {
						if imp == internal("server") || imp == internal("httpapi") || imp == internal("web") || strings.HasPrefix(imp, "github.com/jackc/") || strings.HasPrefix(imp, "modernc.org/") {
							t.Errorf("sqlstore imports %s; drivers belong in the adapter packages", imp)
						}
					}
				case internal("server"):
					for _, imp := range p.Imports {
						if imp == internal("httpapi") || imp == internal("web") || imp == internal("sqlite") || imp == internal("postgres") {
							t.Errorf("server imports %s; transports and adapters depend on it, not the reverse", imp)
						}
					}
				}
			}
		})
	}
}

// TestPackageDocs checks that every package has a doc comment in exactly
// one file (tailscale's pkgdoc rule).
func TestPackageDocs(t *testing.T) {
	pkgs := listPackages(t, "linux")
	for path, p := range pkgs {
		if len(p.GoFiles) == 0 {
			continue
		}
		var withDoc []string
		fset := token.NewFileSet()
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if file.Doc != nil && strings.TrimSpace(file.Doc.Text()) != "" {
				withDoc = append(withDoc, f)
			}
		}
		switch len(withDoc) {
		case 0:
			t.Errorf("package %s has no package doc comment", path)
		case 1:
		default:
			t.Errorf("package %s has package docs in several files: %v", path, withDoc)
		}
	}
}
