package adfs

import (
	"encoding/json"
	"fmt"
	"strings"
)

// jsonReport is the --json report.
type jsonReport struct {
	Farm   string   `json:"farm,omitempty"`
	Errors []string `json:"errors,omitempty"`
	Trusts []Row    `json:"trusts"`
}

// JSON renders the report as JSON.
func (r *Result) JSON() []byte {
	out := jsonReport{Errors: r.Errors, Trusts: r.Rows}
	if r.Farm != nil {
		out.Farm = r.Farm.Identifier
	}
	if out.Trusts == nil {
		out.Trusts = []Row{}
	}
	b, _ := json.MarshalIndent(out, "", "  ") // plain strings and slices: cannot fail
	return append(b, '\n')
}

// Markdown renders the report for people: a table with one row per trust,
// then the details of every trust that is not simply migrated.
func (r *Result) Markdown() []byte {
	var b strings.Builder
	b.WriteString("# ADFS import report\n\n")
	if r.Farm != nil {
		fmt.Fprintf(&b, "Farm: `%s`\n\n", r.Farm.Identifier)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "- **could not read** %s\n", e)
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n")
	}
	count := map[string]int{}
	for _, row := range r.Rows {
		count[row.Status]++
	}
	fmt.Fprintf(&b, "%d migrated, %d migrated with changes, %d not migrated.\n\n", count[Migrated], count[MigratedWithChanges], count[NotMigrated])
	b.WriteString("| trust | kind | status | app | policy |\n|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(row.Trust), row.Kind, row.Status, code(row.App), code(row.Policy))
	}
	for _, row := range r.Rows {
		if row.Status == Migrated && len(row.AppMustChange) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s (%s): %s\n\n", cell(row.Trust), row.Kind, row.Status)
		if row.Why != "" {
			fmt.Fprintf(&b, "Not migrated: %s\n\n", row.Why)
		}
		list(&b, "Changes", row.Changes)
		list(&b, "The app must still change", row.AppMustChange)
		if len(row.Skipped) > 0 {
			b.WriteString("Rules not translated:\n\n")
			for _, s := range row.Skipped {
				fmt.Fprintf(&b, "- %s (at %s): %s\n\n  ```\n  %s\n  ```\n", s.Name, s.At, s.Why, strings.ReplaceAll(s.Rule, "\n", "\n  "))
			}
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

func list(b *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n\n", title)
	for _, it := range items {
		fmt.Fprintf(b, "- %s\n", it)
	}
	b.WriteString("\n")
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func code(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + s + "`"
}
