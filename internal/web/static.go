package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// staticFiles serves the embedded CSS, JavaScript and images under
// content-hashed names (/static/console.3f9a1c2b7d.css). A name changes
// whenever its content does, so responses can be cached for a year and a
// new release never runs with a stale stylesheet.
type staticFiles struct {
	byURL map[string]*staticFile // "/static/console.3f9a1c2b7d.css" → file
	urls  map[string]string      // "console.css" → URL
}

type staticFile struct {
	name string
	body []byte
	etag string
	ctyp string
}

func loadStatic() (*staticFiles, error) {
	s := &staticFiles{byURL: map[string]*staticFile{}, urls: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:5])
		ext := path.Ext(name)
		url := "/static/" + strings.TrimSuffix(name, ext) + "." + hash + ext
		ctyp := mime.TypeByExtension(ext)
		if ctyp == "" {
			ctyp = "application/octet-stream"
		}
		s.byURL[url] = &staticFile{name: name, body: body, etag: `"` + hash + `"`, ctyp: ctyp}
		s.urls[name] = url
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	return s, nil
}

// url returns the hashed URL of a static file; templates call it as
// {{asset "console.css"}}. An unknown name is a programming error and
// fails the template, which the tests render.
func (s *staticFiles) url(name string) (string, error) {
	u, ok := s.urls[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return u, nil
}

func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := s.byURL[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.serve(w, r, f)
}

func (s *staticFiles) serve(w http.ResponseWriter, r *http.Request, f *staticFile) {
	h := w.Header()
	h.Set("Content-Type", f.ctyp)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// favicon serves the icon at the fixed path browsers ask for.
func (s *staticFiles) favicon(w http.ResponseWriter, r *http.Request) {
	f := s.byURL[s.urls["favicon.svg"]]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	s.serve(w, r, f)
}
