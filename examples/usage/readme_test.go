package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEUsageIsThisProgram keeps README's usage block and this program
// identical, so that what README shows compiles.
func TestREADMEUsageIsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, usage, ok := strings.Cut(string(readme), "\n## Usage\n")
	if !ok {
		t.Fatal("README has no '## Usage' section")
	}
	_, block, ok := strings.Cut(usage, "```go\n")
	if !ok {
		t.Fatal("README's usage section has no ```go block")
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatal("README's usage block is not closed")
	}
	if block != string(program) {
		t.Fatalf("README's usage block and examples/usage/main.go differ: copy main.go into README's block")
	}
}
