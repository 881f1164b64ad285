package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/riskfile"
	"github.com/risksync/risksync/internal/service"
)

// importFormat picks the format from the file's extension.
func importFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		return riskfile.CSV, nil
	case ".json":
		return riskfile.JSON, nil
	case ".yaml", ".yml":
		return riskfile.YAML, nil
	default:
		if ext == "" {
			ext = "no extension"
		}
		return "", usageError{fmt.Errorf("risk import: %s: cannot tell the format from %s: name the file .csv, .json, .yaml or .yml", path, ext)}
	}
}

// shownErrors bounds the one-line summary; --json lists every error.
const shownErrors = 20

func (m *Main) riskImportCommand() *cobra.Command {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "import FILE [--dry-run] [--json]",
		Short: "Create and update risks from a .csv, .json or .yaml file, all or nothing",
		Long: `Create and update risks from a file: CSV with a header row, or a JSON or YAML
array of objects. A row with a key updates that risk; otherwise a risk with
the same title is updated; otherwise a risk is created. Any bad row fails the
whole import and nothing is written. See README "Import and export".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("risk import: give one file, e.g. risksync risk import risks.csv")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			format, err := importFormat(path)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("risk import: %w", err)
			}
			var res service.ImportResult
			// A dry run does not rescore either: it writes nothing at all.
			err = m.withBackendFor(cmd.Context(), !dryRun, func(b riskBackend) error {
				res, err = b.importFile(cmd.Context(), data, format, dryRun)
				return err
			})
			if registry.ErrorCode(err) == registry.EINVALID && len(res.Errors) == 0 {
				res = service.ImportResult{Created: []string{}, Updated: []string{}, Errors: service.ImportErrorsOf(err)}
			}
			if len(res.Errors) > 0 {
				return m.importFailed(res, format, asJSON)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(m.Stdout, res)
			}
			return m.printImport(res, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and say what would change; write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print the result as JSON: {"created","updated","unchanged","errors"}`)
	return cmd
}

func (m *Main) printImport(res service.ImportResult, dryRun bool) error {
	var b strings.Builder
	createVerb, updateVerb := "created", "updated"
	if dryRun {
		createVerb, updateVerb = "would create:", "would update"
	}
	for _, k := range res.Created {
		fmt.Fprintf(&b, "%s %s\n", createVerb, k)
	}
	for _, k := range res.Updated {
		fmt.Fprintf(&b, "%s %s\n", updateVerb, k)
	}
	if dryRun {
		fmt.Fprintf(&b, "dry run: %d to create, %d to update, %d unchanged; nothing written\n", len(res.Created), len(res.Updated), res.Unchanged)
	} else {
		fmt.Fprintf(&b, "%d created, %d updated, %d unchanged\n", len(res.Created), len(res.Updated), res.Unchanged)
	}
	_, err := fmt.Fprint(m.Stdout, b.String())
	return err
}

// importFailed prints the result (with --json) and returns the one-line
// summary Run prints on stderr with exit code 1.
func (m *Main) importFailed(res service.ImportResult, format string, asJSON bool) error {
	if asJSON {
		if err := writeJSON(m.Stdout, res); err != nil {
			return err
		}
	}
	where := "line"
	if format == riskfile.JSON {
		where = "item"
	}
	msgs := make([]string, 0, min(len(res.Errors), shownErrors)+1)
	for i, e := range res.Errors {
		if i == shownErrors {
			msgs = append(msgs, fmt.Sprintf("and %d more (--json lists them all)", len(res.Errors)-shownErrors))
			break
		}
		var loc []string
		if e.Line > 0 {
			loc = append(loc, fmt.Sprintf("%s %d", where, e.Line))
		}
		if e.Column != "" {
			loc = append(loc, e.Column)
		}
		msgs = append(msgs, strings.Join(append(loc, e.Message), ": "))
	}
	return errors.New("risk import: " + service.BadRows(res.Errors) + ", nothing written: " + strings.Join(msgs, "; "))
}

func (m *Main) riskExportCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export [--format csv|json]",
		Short: "Write every risk, ranked, in import's columns (import then changes nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format = strings.ToLower(strings.TrimSpace(format))
			if format != riskfile.CSV && format != riskfile.JSON {
				return usageError{fmt.Errorf("risk export: --format %q: use csv or json", format)}
			}
			return m.withBackend(cmd.Context(), func(b riskBackend) error {
				risks, err := b.export(cmd.Context())
				if err != nil {
					return err
				}
				return riskfile.Write(m.Stdout, format, risks)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", riskfile.CSV, "csv or json")
	return cmd
}
