package riskfile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/risksync/risksync/internal/registry"
)

func parseCSV(in io.Reader) ([]Row, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1 // counted here, so every short row is listed
	cr.ReuseRecord = true
	p := &problems{where: "line"}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, registry.Errorf(registry.EINVALID, "line 1: the file is empty: it needs a header row naming the columns, e.g. key,title,impact,scope,likelihood,owner")
	}
	if err != nil {
		return nil, csvError(err)
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // spreadsheets write a byte-order mark
	cols := p.header(header, 1)
	if !slices.Contains(cols, "title") {
		p.add(1, "title", "required column (risk is another name for it): one line naming each failure mode")
		p.titleless = true
	}
	var out []Row
	cells := make([]cell, 0, len(cols))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err) // the rest of the file cannot be read reliably
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue // spreadsheets leave rows of empty cells
		}
		if len(rec) != len(cols) {
			p.add(line, "", fmt.Sprintf("has %d cells, the header has %d: quote cells that contain commas", len(rec), len(cols)))
			continue
		}
		cells = cells[:0]
		for i, v := range rec {
			if cols[i] != "" {
				cells = append(cells, cell{column: cols[i], text: unescapeCell(v)})
			}
		}
		out = append(out, p.row(line, cells))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &registry.Error{Code: registry.EINVALID, Message: fmt.Sprintf("line %d: %v", pe.Line, pe.Err),
			Fields: []registry.FieldError{{Location: fmt.Sprintf("line %d", pe.Line), Message: pe.Err.Error()}}}
	}
	return fmt.Errorf("read csv: %w", err)
}

func parseJSON(in io.Reader) ([]Row, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("read json: %w", err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, jsonError(data, err)
	}
	p := &problems{where: "item"}
	out := make([]Row, 0, len(items))
	for i, raw := range items {
		n := i + 1
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			p.add(n, "", "is not an object: each item is {\"title\": …, \"impact\": …}")
			continue
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		slices.Sort(names) // messages in a stable order
		cols := p.header(names, n)
		cells := make([]cell, 0, len(names))
		for j, name := range names {
			if cols[j] == "" {
				continue
			}
			c, ok := jsonCell(obj[name])
			if !ok {
				p.add(n, cols[j], "must be text or a number")
				continue
			}
			c.column = cols[j]
			cells = append(cells, c)
		}
		out = append(out, p.row(n, cells))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func jsonCell(raw json.RawMessage) (cell, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case string(raw) == "null":
		return cell{null: true}, true
	case len(raw) > 0 && raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return cell{text: s}, err == nil
	case len(raw) > 0 && (raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9')):
		return cell{text: string(raw)}, true // the number as written: 4, 2.5
	}
	return cell{}, false
}

func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return registry.Errorf(registry.EINVALID, "line %d: not valid JSON: %v", line, se)
	case errors.As(err, &te):
		return registry.Errorf(registry.EINVALID, "the file must be a JSON array of objects, [{\"title\": …}, …], not a %s", te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || len(bytes.TrimSpace(data)) == 0:
		return registry.Errorf(registry.EINVALID, "the JSON ends too early: the file must be an array of objects, [{\"title\": …}, …]")
	}
	return registry.Errorf(registry.EINVALID, "not valid JSON: %v", err)
}

func parseYAML(in io.Reader) ([]Row, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(in).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, registry.Errorf(registry.EINVALID, "the file is empty: it must be a YAML list of risks, each a mapping such as {title: …, impact: 4}")
		}
		return nil, registry.Errorf(registry.EINVALID, "not valid YAML: %v", err)
	}
	list := &doc
	if list.Kind == yaml.DocumentNode && len(list.Content) == 1 {
		list = list.Content[0]
	}
	if list.Kind != yaml.SequenceNode {
		return nil, registry.Errorf(registry.EINVALID, "line %d: the file must be a YAML list of risks, each a mapping such as {title: …, impact: 4}", list.Line)
	}
	p := &problems{where: "line"}
	out := make([]Row, 0, len(list.Content))
	for _, item := range list.Content {
		item = resolve(item)
		n := item.Line
		if item.Kind != yaml.MappingNode {
			p.add(n, "", "is not a mapping: each risk is {title: …, impact: …}")
			continue
		}
		names := make([]string, 0, len(item.Content)/2)
		values := make([]*yaml.Node, 0, len(item.Content)/2)
		for i := 0; i+1 < len(item.Content); i += 2 {
			names = append(names, item.Content[i].Value)
			values = append(values, resolve(item.Content[i+1]))
		}
		cols := p.header(names, n)
		cells := make([]cell, 0, len(names))
		for j, v := range values {
			if cols[j] == "" {
				continue
			}
			if v.Kind != yaml.ScalarNode {
				p.add(n, cols[j], "must be text or a number")
				continue
			}
			cells = append(cells, cell{column: cols[j], text: v.Value, null: v.Tag == "!!null"})
		}
		out = append(out, p.row(n, cells))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// resolve follows an alias (&a … *a) to its node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}
