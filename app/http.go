package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/signin"
)

// HTTPModule provides *HTTPServer: the sign-in API, /livez, /readyz and
// /metrics on http.addr, plus /debug/pprof/ when EnvPprof is "1".
func HTTPModule() fx.Option { return fx.Module("http", fx.Provide(NewHTTPServer)) }

// EnvPprof names the environment variable that, when set to "1", adds Go's
// net/http/pprof handlers under /debug/pprof/ on the HTTP API address. It is
// off by default: profiles expose internals and cost CPU while taken, so
// enable it only on a replica you are measuring, never on a public address.
const EnvPprof = "GUILDHALL_PPROF"

// withPprof returns h with the net/http/pprof handlers mounted under
// /debug/pprof/; every other path still goes to h.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}

// HTTPServer serves the replica's HTTP API. It listens in OnStart and shuts
// down gracefully in OnStop.
type HTTPServer struct {
	srv *http.Server
	log *slog.Logger

	mu   sync.Mutex
	addr string
	done chan struct{} // closed when Serve returns
}

// HTTPParams are NewHTTPServer's dependencies.
type HTTPParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    *config.Config
	Logger    *slog.Logger
	Store     *Store
	Registry  registry.ChannelRegistry
	Readiness *Readiness
	Prom      *prometheus.Registry
}

// NewHTTPServer builds the handler and registers the server's lifecycle.
func NewHTTPServer(p HTTPParams) (*HTTPServer, error) {
	log := p.Logger.With("component", "http")
	h, err := signin.NewHandler(signin.Config{
		Store:     p.Store,
		Channels:  p.Registry,
		ReplicaID: p.Config.Replica.ID,
		TokenTTL:  p.Config.Session.TokenTTL.D(),
		Ready:     p.Readiness.Check,
		Metrics:   promhttp.HandlerFor(p.Prom, promhttp.HandlerOpts{Registry: p.Prom}),
		Logger:    log,
		// The sign-in store-error counter goes where the other metrics are.
		Registerer: p.Prom,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	var handler http.Handler = h
	if os.Getenv(EnvPprof) == "1" {
		handler = withPprof(h)
		log.Warn("pprof enabled on the HTTP API address", "env", EnvPprof, "path", "/debug/pprof/")
	}
	s := &HTTPServer{
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		log:  log,
		done: make(chan struct{}),
	}
	p.Lifecycle.Append(fx.Hook{OnStart: s.start(p.Config.HTTP.Addr), OnStop: s.stop})
	return s, nil
}

func (s *HTTPServer) start(addr string) func(context.Context) error {
	return func(context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("app: http.addr: listen %s: %w", addr, err)
		}
		s.mu.Lock()
		s.addr = ln.Addr().String()
		s.mu.Unlock()
		go func() {
			defer close(s.done)
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "err", err)
			}
		}()
		s.log.Info("http listening", "addr", s.Addr())
		return nil
	}
}

func (s *HTTPServer) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
		_ = s.srv.Close()
		<-s.done
	}
	if err != nil {
		return fmt.Errorf("app: http shutdown: %w", err)
	}
	return nil
}

// Addr returns the address the server listens on ("" before start); with
// http.addr port 0 it carries the port actually bound.
func (s *HTTPServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns "http://" + Addr, with an unspecified host replaced by
// 127.0.0.1 so it can be dialled.
func (s *HTTPServer) URL() string {
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
