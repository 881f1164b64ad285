package config

import (
	"fmt"
	"io"
	"os"
)

// DefaultPath is read when no --config and no $RISKSYNC_CONFIG are given.
const DefaultPath = "risksync.yaml"

// MaxFileSize bounds a configuration file.
const MaxFileSize = 1 << 20

// Locate returns the configuration file to read: flag, else $RISKSYNC_CONFIG,
// else ./risksync.yaml if present, else "" for the built-in defaults.
func Locate(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if p := getenv("RISKSYNC_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(DefaultPath); err == nil {
		return DefaultPath
	}
	return ""
}

// Load reads path ("" for the built-in defaults), applies defaults and the
// environment override of database.url, and validates.
func Load(path string, getenv func(string) string) (*Config, error) {
	var data []byte
	source := "built-in defaults"
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, unwrapPathError(err))
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if len(data) > MaxFileSize {
			return nil, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileSize)
		}
		source = path
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", source, err)
	}
	cfg.Source = source
	if u := getenv("RISKSYNC_DATABASE_URL"); u != "" {
		cfg.Database.URL = u
		if _, err := ParseDatabaseURL(u); err != nil {
			return nil, fmt.Errorf("RISKSYNC_DATABASE_URL: %w", err)
		}
	}
	return cfg, nil
}
