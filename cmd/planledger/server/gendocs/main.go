// Command gendocs writes the files of docs/ that are made from the domain
// catalogue and the route table: events.md, openapi.json and schemas/.
// Run it with `go generate ./cmd/planledger/server`.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"planledger/cmd/planledger/server"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DOCS_DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	files, err := server.GeneratedDocs()
	if err != nil {
		return err
	}
	// Schemas of types no longer in the catalogue go.
	old, _ := filepath.Glob(filepath.Join(dir, "schemas", "*.json"))
	for _, f := range old {
		rel := "schemas/" + filepath.Base(f)
		if _, keep := files[rel]; !keep {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for rel, b := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("gendocs: wrote %d files to %s (%s)\n", len(files), dir, strings.Join([]string{"events.md", "openapi.json", "schemas/"}, ", "))
	return nil
}
