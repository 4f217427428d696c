package streammap

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Position is where a mapping stands in a table's stream: After is the
// sequence number of the last record it is done with ("" before the first).
type Position struct {
	Table string `json:"table"`
	After string `json:"after"`
}

// Checkpoints keep mappings' positions, by mapping name.
type Checkpoints interface {
	Load(mapping string) (Position, bool)
	Save(mapping string, p Position) error
}

// FileCheckpoints keeps positions in one JSON file, rewritten atomically on
// every Save. It is safe for concurrent use by several mappings.
type FileCheckpoints struct {
	path string
	mu   sync.Mutex
	pos  map[string]Position
}

// OpenCheckpoints reads the file at path; a missing file is an empty set.
func OpenCheckpoints(path string) (*FileCheckpoints, error) {
	c := &FileCheckpoints{path: path, pos: map[string]Position{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Mappings map[string]Position `json:"mappings"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("streammap: reading %s: %w", path, err)
	}
	for k, v := range f.Mappings {
		c.pos[k] = v
	}
	return c, nil
}

// Load returns a mapping's saved position.
func (c *FileCheckpoints) Load(mapping string) (Position, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pos[mapping]
	return p, ok
}

// Save records a mapping's position and rewrites the file.
func (c *FileCheckpoints) Save(mapping string, p Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos[mapping] = p
	b, err := json.MarshalIndent(struct {
		Mappings map[string]Position `json:"mappings"`
	}{c.pos}, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), "."+filepath.Base(c.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.path)
}
