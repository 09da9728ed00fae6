package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"

	"github.com/guildhall/guildhall/channel"
)

// MetricsModule provides the replica's own *prometheus.Registry (never the
// global default one, so apps in one process do not collide), with the Go
// and process collectors, and the channel metrics registered on it.
func MetricsModule() fx.Option {
	return fx.Module("metrics", fx.Provide(NewMetricsRegistry, NewChannelMetrics))
}

// NewMetricsRegistry returns a registry with the Go runtime and process
// collectors registered.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewChannelMetrics registers the metrics shared by every channel of the
// replica.
func NewChannelMetrics(reg *prometheus.Registry) *channel.Metrics {
	return channel.NewMetrics(reg)
}
