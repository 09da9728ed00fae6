package pgtemp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EnvDatabaseURL names the environment variable that points Cluster at an
// existing server instead of a throwaway one.
const EnvDatabaseURL = "DATABASE_URL"

// SetupTimeout bounds starting the throwaway server on first use and each
// database creation or drop made for a test.
const SetupTimeout = 2 * time.Minute

// Cluster hands out fresh databases: on the server of $DATABASE_URL when
// set, else on one throwaway Server started on first use. Tests use it
// through package pgtemptest, which adds the testing helpers (so that this
// package, linked into the guildhall binary, does not import testing). Its
// methods are safe for concurrent use.
type Cluster struct {
	opts   Options
	envURL string

	once     sync.Once
	srv      *Server
	adminURL string
	startErr error

	seq atomic.Int64
}

// NewCluster returns a Cluster; it starts nothing until the first database
// is asked for. DATABASE_URL is read now.
func NewCluster(opts Options) *Cluster {
	return &Cluster{opts: opts, envURL: os.Getenv(EnvDatabaseURL)}
}

// start resolves the admin URL, starting a Server when needed.
func (c *Cluster) start() (string, error) {
	c.once.Do(func() {
		if c.envURL != "" {
			if _, err := url.Parse(c.envURL); err != nil {
				c.startErr = fmt.Errorf("pgtemp: %s: %w", EnvDatabaseURL, err)
				return
			}
			c.adminURL = c.envURL
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), SetupTimeout)
		defer cancel()
		srv, err := Start(ctx, c.opts)
		if err != nil {
			c.startErr = err
			return
		}
		c.srv, c.adminURL = srv, srv.URL()
	})
	return c.adminURL, c.startErr
}

// NewDatabase creates a uniquely named empty database and returns its name
// and URL. hint (may be empty) becomes part of the name. The caller drops it
// with DropDatabase.
func (c *Cluster) NewDatabase(ctx context.Context, hint string) (name, dbURL string, err error) {
	admin, err := c.start()
	if err != nil {
		return "", "", err
	}
	name = c.uniqueName(hint)
	if err := createDatabase(ctx, admin, name); err != nil {
		return "", "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", "", fmt.Errorf("pgtemp: parse admin URL: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return name, u.String(), nil
}

// DropDatabase drops a database made by NewDatabase, closing its
// connections first.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	admin, err := c.start()
	if err != nil {
		return err
	}
	return dropDatabase(ctx, admin, name)
}

// Server returns the throwaway server, starting it if needed, or nil when
// the Cluster uses DATABASE_URL.
func (c *Cluster) Server() (*Server, error) {
	if _, err := c.start(); err != nil {
		return nil, err
	}
	return c.srv, nil
}

// Close stops the throwaway server if one was started. It does not touch a
// DATABASE_URL server (tests drop their own databases).
func (c *Cluster) Close() error {
	c.once.Do(func() {}) // nothing can start after Close
	if c.srv != nil {
		return c.srv.Stop()
	}
	return nil
}

// uniqueName builds a database name unique across processes sharing a
// server: t<pid>_<seq>_<random>_<hint>, at most 63 bytes.
func (c *Cluster) uniqueName(hint string) string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails on Linux
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), c.seq.Add(1), hex.EncodeToString(rnd[:]))
	var b strings.Builder
	for _, r := range strings.ToLower(hint) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if h := b.String(); h != "" {
		name += "_" + h
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}
