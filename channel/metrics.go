package channel

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the prometheus metrics of channel servers. One Metrics may be
// shared by every channel of a process; a nil *Metrics records nothing.
type Metrics struct {
	Sessions          prometheus.Gauge   // logged-in sessions
	FramesIn          prometheus.Counter // frames received
	FramesOut         prometheus.Counter // frames written to sockets
	Writes            prometheus.Counter // socket write calls (FramesOut / Writes = frames coalesced per write)
	Broadcasts        prometheus.Counter // casts and broadcasts fanned out
	SlowConsumers     prometheus.Counter // sessions closed because their send queue was full
	MalformedCloses   prometheus.Counter // sessions closed for a malformed, oversized or unknown frame
	PanicsRecovered   prometheus.Counter // panics recovered in handlers and loops
	StoreErrors       prometheus.Counter // store calls that failed
	RegistryErrors    prometheus.Counter // registry calls that failed
	LogoutSavesFailed prometheus.Counter // logout saves that failed after retries
	HandshakesRefused prometheus.Counter // connections refused at handshake
	AcceptErrors      prometheus.Counter // listener accept errors
	SendLoops         prometheus.Gauge   // send goroutines running (idle sessions have none)
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). It panics, like prometheus.MustRegister, if they are already
// registered with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "guildhall", Subsystem: "channel", Name: name, Help: help})
	}
	m := &Metrics{
		Sessions:          prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "guildhall", Subsystem: "channel", Name: "sessions", Help: "Logged-in sessions."}),
		FramesIn:          c("frames_in_total", "Frames received from clients."),
		FramesOut:         c("frames_out_total", "Frames written to clients."),
		Writes:            c("socket_writes_total", "Socket write calls of send goroutines (frames_out_total / socket_writes_total is the coalescing)."),
		Broadcasts:        c("broadcasts_total", "Casts and broadcasts fanned out."),
		SlowConsumers:     c("slow_consumer_disconnects_total", "Sessions closed because their send queue was full."),
		MalformedCloses:   c("malformed_frame_closes_total", "Sessions closed for a malformed, oversized or unknown frame."),
		PanicsRecovered:   c("panics_recovered_total", "Panics recovered in handlers and loops."),
		StoreErrors:       c("store_errors_total", "Store calls that failed."),
		RegistryErrors:    c("registry_errors_total", "Registry calls that failed."),
		LogoutSavesFailed: c("logout_saves_failed_total", "Logout saves that failed after retries."),
		HandshakesRefused: c("handshakes_refused_total", "Connections refused at handshake."),
		AcceptErrors:      c("accept_errors_total", "Listener accept errors."),
		SendLoops:         prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "guildhall", Subsystem: "channel", Name: "send_goroutines", Help: "Send goroutines running (a session has one only while it has something to send)."}),
	}
	if reg != nil {
		reg.MustRegister(m.Sessions, m.FramesIn, m.FramesOut, m.Writes, m.Broadcasts, m.SlowConsumers,
			m.MalformedCloses, m.PanicsRecovered, m.StoreErrors, m.RegistryErrors,
			m.LogoutSavesFailed, m.HandshakesRefused, m.AcceptErrors, m.SendLoops)
	}
	return m
}

func (m *Metrics) add(pick func(*Metrics) prometheus.Counter, n int) {
	if m != nil && n > 0 {
		pick(m).Add(float64(n))
	}
}

func (m *Metrics) sendLoopsAdd(d int) {
	if m != nil {
		m.SendLoops.Add(float64(d))
	}
}

func (m *Metrics) sessionsAdd(d int) {
	if m != nil {
		m.Sessions.Add(float64(d))
	}
}

func mFramesIn(m *Metrics) prometheus.Counter          { return m.FramesIn }
func mFramesOut(m *Metrics) prometheus.Counter         { return m.FramesOut }
func mWrites(m *Metrics) prometheus.Counter            { return m.Writes }
func mBroadcasts(m *Metrics) prometheus.Counter        { return m.Broadcasts }
func mSlowConsumers(m *Metrics) prometheus.Counter     { return m.SlowConsumers }
func mMalformed(m *Metrics) prometheus.Counter         { return m.MalformedCloses }
func mPanics(m *Metrics) prometheus.Counter            { return m.PanicsRecovered }
func mStoreErrors(m *Metrics) prometheus.Counter       { return m.StoreErrors }
func mRegistryErrors(m *Metrics) prometheus.Counter    { return m.RegistryErrors }
func mLogoutSavesFailed(m *Metrics) prometheus.Counter { return m.LogoutSavesFailed }
func mHandshakesRefused(m *Metrics) prometheus.Counter { return m.HandshakesRefused }
func mAcceptErrors(m *Metrics) prometheus.Counter      { return m.AcceptErrors }
