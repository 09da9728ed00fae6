package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
)

// kickReason is the reason given to a previous session when the same
// character logs in again.
const kickReason = "logged in elsewhere"

// Local is the in-process ChannelRegistry: it serves the channels of one
// process (one replica) and does no I/O. It is the registry of a
// single-replica deployment and the reference implementation of the
// contract checked by package registrytest.
//
// Local learns presence only from SessionOnline, SessionUpdated and
// SessionOffline, and stages only from StageUpdated and StageRemoved; it never
// asks a Channel for its sessions or stages. Deliveries (Worldcast, Cast,
// NotifyMail) and kicks (SessionOnline, DisconnectUser) are synchronous calls
// into the owning Channel.
//
// Lock order: Local's mutex is never held while calling any Channel method
// (Info, Broadcast, Deliver, Disconnect, NotifyMail, ...). Every method takes a
// snapshot of what it needs under the mutex, releases it, and then calls the
// channels. A Channel may therefore call back into Local from any of its
// methods, e.g. SessionOffline from inside Disconnect.
//
// Semaphore holders are identified by CharID, ReplicaID and ChannelID
// (Holder.Addr is informational). Fencing tokens come from one counter of
// the Local: every grant, whatever the name, gets a token greater than every
// token issued before it, so the Local keeps no state per name once a
// semaphore is released.
//
// After Close, methods that return an error fail with ErrClosed and the
// others do nothing. All methods are safe for concurrent use.
type Local struct {
	replicaID string
	log       *slog.Logger

	mu       sync.Mutex
	closed   bool
	channels map[uint16]Channel
	presence map[uint32]SessionSnapshot
	stages   map[string]map[uint16]StageSnapshot // stage ID -> channel -> stage (IDs are unique per channel only)
	sems     map[string]SemaphoreLease
	token    uint64 // last fencing token issued, for any name; never reset
}

var _ ChannelRegistry = (*Local)(nil)

// NewLocal returns an empty in-process registry for the replica replicaID.
// A nil log discards log output.
func NewLocal(replicaID string, log *slog.Logger) *Local {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Local{
		replicaID: replicaID,
		log:       log.With("component", "registry", "replica", replicaID),
		channels:  make(map[uint16]Channel),
		presence:  make(map[uint32]SessionSnapshot),
		stages:    make(map[string]map[uint16]StageSnapshot),
		sems:      make(map[string]SemaphoreLease),
	}
}

// ReplicaID returns the replica ID given to NewLocal.
func (l *Local) ReplicaID() string { return l.replicaID }

// Register adds ch under the ID reported by ch.Info(). Channel ID 0 is
// reserved ("no channel" in Worldcast) and refused. An ID already registered
// fails with an error wrapping ErrChannelClaimed.
func (l *Local) Register(ctx context.Context, ch Channel) error {
	if ch == nil {
		return errors.New("registry: register: nil channel")
	}
	info := ch.Info() // outside the lock: lock order
	if info.ID == 0 {
		return errors.New("registry: register: channel ID 0 is reserved")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("registry: register channel %d: %w", info.ID, ErrClosed)
	}
	if _, ok := l.channels[info.ID]; ok {
		return fmt.Errorf("registry: register channel %d: %w", info.ID, ErrChannelClaimed)
	}
	l.channels[info.ID] = ch
	l.log.Info("channel registered", "channel", info.ID, "addr", info.Addr)
	return nil
}

// Unregister removes the channel channelID, the stages it published, the
// presence of its sessions, and every global semaphore held by those
// characters or by holders on that channel. It is a no-op for an unknown ID.
func (l *Local) Unregister(ctx context.Context, channelID uint16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if _, ok := l.channels[channelID]; !ok {
		return
	}
	delete(l.channels, channelID)
	gone := make(map[uint32]bool)
	for id, s := range l.presence {
		if s.ChannelID == channelID {
			gone[id] = true
			delete(l.presence, id)
		}
	}
	for id, byCh := range l.stages {
		delete(byCh, channelID)
		if len(byCh) == 0 {
			delete(l.stages, id)
		}
	}
	released := 0
	for name, lease := range l.sems {
		if gone[lease.Holder.CharID] || (lease.Holder.ChannelID == channelID && l.isMine(lease.Holder.ReplicaID)) {
			delete(l.sems, name)
			released++
		}
	}
	l.log.Info("channel unregistered", "channel", channelID, "sessions", len(gone), "semaphores", released)
}

// isMine reports whether replicaID names this replica ("" is taken to mean
// this replica).
func (l *Local) isMine(replicaID string) bool {
	return replicaID == "" || replicaID == l.replicaID
}

// SessionOnline records s as the character's presence. If the character is
// already present (on any channel, including s's own), that channel's
// Disconnect is called with reason "logged in elsewhere" and awaited; if it
// does not confirm before ctx ends, SessionOnline returns an error wrapping
// ErrKickUnconfirmed and records nothing. s.ChannelID must be registered.
// An empty s.ReplicaID is filled with this replica's ID.
func (l *Local) SessionOnline(ctx context.Context, s SessionSnapshot) error {
	if s.CharID == 0 {
		return errors.New("registry: session online: character ID 0")
	}
	if s.ReplicaID == "" {
		s.ReplicaID = l.replicaID
	}
	if !l.isMine(s.ReplicaID) {
		return fmt.Errorf("registry: session online: character %d claims replica %q, this is %q", s.CharID, s.ReplicaID, l.replicaID)
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("registry: session online of character %d: %w: %w", s.CharID, ErrKickUnconfirmed, err)
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return fmt.Errorf("registry: session online of character %d: %w", s.CharID, ErrClosed)
		}
		if _, ok := l.channels[s.ChannelID]; !ok {
			l.mu.Unlock()
			return fmt.Errorf("registry: session online of character %d: channel %d not registered: %w", s.CharID, s.ChannelID, ErrNotFound)
		}
		old, present := l.presence[s.CharID]
		if !present {
			l.presence[s.CharID] = s
			l.mu.Unlock()
			return nil
		}
		oldCh := l.channels[old.ChannelID]
		l.mu.Unlock()

		if oldCh != nil {
			l.log.Info("kicking previous session", "char", s.CharID, "old_channel", old.ChannelID, "new_channel", s.ChannelID)
			if _, err := oldCh.Disconnect(ctx, s.CharID, kickReason); err != nil {
				l.log.Warn("previous session did not confirm logout", "char", s.CharID, "old_channel", old.ChannelID, "err", err)
				return fmt.Errorf("registry: session online of character %d: kick on channel %d: %w: %w", s.CharID, old.ChannelID, ErrKickUnconfirmed, err)
			}
		}
		// The logout is confirmed (or the old channel is gone). Drop the old
		// presence unless the logout already did, or someone replaced it
		// meanwhile, and look again: a concurrent login may have won.
		l.mu.Lock()
		if cur, ok := l.presence[s.CharID]; ok && cur == old {
			delete(l.presence, s.CharID)
		}
		l.mu.Unlock()
	}
}

// SessionUpdated replaces the recorded snapshot of s.CharID if the character
// is present on s.ChannelID of this replica; otherwise it does nothing.
func (l *Local) SessionUpdated(ctx context.Context, s SessionSnapshot) {
	if s.ReplicaID == "" {
		s.ReplicaID = l.replicaID
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	cur, ok := l.presence[s.CharID]
	if !ok || cur.ChannelID != s.ChannelID || cur.ReplicaID != s.ReplicaID {
		l.log.Debug("session update for absent presence ignored", "char", s.CharID, "channel", s.ChannelID)
		return
	}
	l.presence[s.CharID] = s
}

// SessionOffline removes charID's presence if it is on channelID.
func (l *Local) SessionOffline(ctx context.Context, charID uint32, channelID uint16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if cur, ok := l.presence[charID]; ok && cur.ChannelID == channelID {
		delete(l.presence, charID)
	}
}

// StageUpdated records s in the stage index, keyed by (StageID, ChannelID).
// Updates for unregistered channels or with an empty StageID are ignored.
func (l *Local) StageUpdated(ctx context.Context, s StageSnapshot) {
	if s.StageID == "" {
		return
	}
	if s.ReplicaID == "" {
		s.ReplicaID = l.replicaID
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if _, ok := l.channels[s.ChannelID]; !ok {
		l.log.Debug("stage update for unregistered channel ignored", "stage", s.StageID, "channel", s.ChannelID)
		return
	}
	byCh := l.stages[s.StageID]
	if byCh == nil {
		byCh = make(map[uint16]StageSnapshot)
		l.stages[s.StageID] = byCh
	}
	byCh[s.ChannelID] = s
}

// StageRemoved drops the stage stageID of channelID from the stage index.
func (l *Local) StageRemoved(ctx context.Context, channelID uint16, stageID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if byCh, ok := l.stages[stageID]; ok {
		delete(byCh, channelID)
		if len(byCh) == 0 {
			delete(l.stages, stageID)
		}
	}
}

// snapshotChannels returns the registered channels (under the lock, then
// released), or ErrClosed.
func (l *Local) snapshotChannels() (map[uint16]Channel, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	return maps.Clone(l.channels), nil
}

// Worldcast calls Broadcast(frame, exceptChar) on every registered channel
// except exceptChannel. Broadcast only queues, so Worldcast does not wait
// for delivery. It fails only with ErrClosed.
func (l *Local) Worldcast(ctx context.Context, frame []byte, exceptChar uint32, exceptChannel uint16) error {
	chans, err := l.snapshotChannels()
	if err != nil {
		return fmt.Errorf("registry: worldcast: %w", err)
	}
	for id, ch := range chans {
		if exceptChannel != 0 && id == exceptChannel {
			continue
		}
		ch.Broadcast(frame, exceptChar)
	}
	return nil
}

// FindSession returns charID's presence, or an error wrapping ErrNotFound.
func (l *Local) FindSession(ctx context.Context, charID uint32) (SessionSnapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return SessionSnapshot{}, fmt.Errorf("registry: find session %d: %w", charID, ErrClosed)
	}
	s, ok := l.presence[charID]
	if !ok {
		return SessionSnapshot{}, fmt.Errorf("registry: find session %d: %w", charID, ErrNotFound)
	}
	return s, nil
}

// route is a character's owning channel, captured under the lock.
type route struct {
	charID uint32
	snap   SessionSnapshot
	ch     Channel
}

// routes resolves charIDs (deduplicated, in first-seen order) to their
// owning channels; characters not present are left out.
func (l *Local) routes(charIDs []uint32) ([]route, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	seen := make(map[uint32]bool, len(charIDs))
	out := make([]route, 0, len(charIDs))
	for _, id := range charIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		s, ok := l.presence[id]
		if !ok {
			continue
		}
		ch, ok := l.channels[s.ChannelID]
		if !ok {
			continue
		}
		out = append(out, route{charID: id, snap: s, ch: ch})
	}
	return out, nil
}

// DisconnectUser calls Disconnect on the owning channel of each present
// character, concurrently, and waits for all of them (bounded by ctx).
// Characters whose channel confirmed are listed in Closed and their presence
// is dropped; those whose channel returned an error (ctx ended, save failed)
// are listed in Unconfirmed. Characters not online appear in neither. Both
// lists are sorted. The error is non-nil only for ErrClosed.
func (l *Local) DisconnectUser(ctx context.Context, charIDs []uint32, reason string) (DisconnectResult, error) {
	rs, err := l.routes(charIDs)
	if err != nil {
		return DisconnectResult{}, fmt.Errorf("registry: disconnect users: %w", err)
	}
	type outcome struct {
		charID    uint32
		found     bool
		confirmed bool
	}
	results := make(chan outcome, len(rs))
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			found, err := r.ch.Disconnect(ctx, r.charID, reason)
			if err != nil {
				l.log.Warn("disconnect unconfirmed", "char", r.charID, "channel", r.snap.ChannelID, "err", err)
			}
			results <- outcome{charID: r.charID, found: found || err != nil, confirmed: err == nil}
		})
	}
	wg.Wait()
	close(results)

	var res DisconnectResult
	l.mu.Lock()
	byChar := make(map[uint32]SessionSnapshot, len(rs))
	for _, r := range rs {
		byChar[r.charID] = r.snap
	}
	for o := range results {
		if o.confirmed {
			// Logged out (or was not there after all): drop the presence
			// we routed by, unless it has been replaced since.
			if cur, ok := l.presence[o.charID]; ok && cur == byChar[o.charID] {
				delete(l.presence, o.charID)
			}
		}
		switch {
		case o.confirmed && o.found:
			res.Closed = append(res.Closed, o.charID)
		case !o.confirmed:
			res.Unconfirmed = append(res.Unconfirmed, o.charID)
		}
	}
	l.mu.Unlock()
	slices.Sort(res.Closed)
	slices.Sort(res.Unconfirmed)
	return res, nil
}

// FindChannelForStage returns the stage stageID from the stage index; if
// several channels host a stage of that ID, the lowest channel ID wins. It
// fails with an error wrapping ErrNotFound if no channel hosts it.
func (l *Local) FindChannelForStage(ctx context.Context, stageID string) (StageSnapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return StageSnapshot{}, fmt.Errorf("registry: find stage %q: %w", stageID, ErrClosed)
	}
	var best StageSnapshot
	found := false
	for chID, s := range l.stages[stageID] {
		if !found || chID < best.ChannelID {
			best, found = s, true
		}
	}
	if !found {
		return StageSnapshot{}, fmt.Errorf("registry: find stage %q: %w", stageID, ErrNotFound)
	}
	return best, nil
}

// SearchSessions returns the present sessions passing f, sorted by CharID,
// at most max of them (max <= 0 means no limit).
func (l *Local) SearchSessions(ctx context.Context, f SessionFilter, max int) ([]SessionSnapshot, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("registry: search sessions: %w", ErrClosed)
	}
	var out []SessionSnapshot
	if f.CharID != 0 {
		if s, ok := l.presence[f.CharID]; ok && f.Match(s) {
			out = append(out, s)
		}
	} else {
		for _, s := range l.presence {
			if f.Match(s) {
				out = append(out, s)
			}
		}
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b SessionSnapshot) int { return cmp.Compare(a.CharID, b.CharID) })
	if max > 0 && len(out) > max {
		out = out[:max:max]
	}
	return out, nil
}

// SearchStages returns the indexed stages whose ID starts with prefix
// (case-sensitive), sorted by StageID then ChannelID, at most max of them
// (max <= 0 means no limit).
func (l *Local) SearchStages(ctx context.Context, prefix string, max int) ([]StageSnapshot, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("registry: search stages: %w", ErrClosed)
	}
	var out []StageSnapshot
	for id, byCh := range l.stages {
		if strings.HasPrefix(id, prefix) {
			for _, s := range byCh {
				out = append(out, s)
			}
		}
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b StageSnapshot) int {
		if c := cmp.Compare(a.StageID, b.StageID); c != 0 {
			return c
		}
		return cmp.Compare(a.ChannelID, b.ChannelID)
	})
	if max > 0 && len(out) > max {
		out = out[:max:max]
	}
	return out, nil
}

// NotifyMail calls NotifyMail on charID's owning channel. It fails with an
// error wrapping ErrNotFound if the character is not present or its channel
// reports it is not online there.
func (l *Local) NotifyMail(ctx context.Context, charID uint32, n MailNotice) error {
	rs, err := l.routes([]uint32{charID})
	if err != nil {
		return fmt.Errorf("registry: notify mail to %d: %w", charID, err)
	}
	if len(rs) == 0 || !rs[0].ch.NotifyMail(charID, n) {
		return fmt.Errorf("registry: notify mail to %d: %w", charID, ErrNotFound)
	}
	return nil
}

// Cast delivers frame to each of targets (duplicates ignored) through its
// owning channel's Deliver, one call per channel, and returns the targets
// the channels reported reached, sorted ascending. It fails only with
// ErrClosed.
func (l *Local) Cast(ctx context.Context, targets []uint32, frame []byte) ([]uint32, error) {
	rs, err := l.routes(targets)
	if err != nil {
		return nil, fmt.Errorf("registry: cast: %w", err)
	}
	byChannel := make(map[uint16][]uint32)
	chans := make(map[uint16]Channel)
	for _, r := range rs {
		byChannel[r.snap.ChannelID] = append(byChannel[r.snap.ChannelID], r.charID)
		chans[r.snap.ChannelID] = r.ch
	}
	var reached []uint32
	for id, ids := range byChannel {
		reached = append(reached, chans[id].Deliver(ids, frame)...)
	}
	slices.Sort(reached)
	return reached, nil
}

// sameHolder reports whether a and b are the same holder: same character on
// the same replica and channel.
func sameHolder(a, b Holder) bool {
	return a.CharID == b.CharID && a.ReplicaID == b.ReplicaID && a.ChannelID == b.ChannelID
}

// AcquireSemaphore grants the semaphore name to h with a fresh fencing
// token, returns h's existing lease if h already holds it, and otherwise
// fails with a *SemaphoreHeldError naming the holder. An empty name or a
// zero h.CharID is refused.
func (l *Local) AcquireSemaphore(ctx context.Context, name string, h Holder) (SemaphoreLease, error) {
	if name == "" {
		return SemaphoreLease{}, errors.New("registry: acquire semaphore: empty name")
	}
	if h.CharID == 0 {
		return SemaphoreLease{}, fmt.Errorf("registry: acquire semaphore %q: character ID 0", name)
	}
	if h.ReplicaID == "" {
		h.ReplicaID = l.replicaID
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return SemaphoreLease{}, fmt.Errorf("registry: acquire semaphore %q: %w", name, ErrClosed)
	}
	if lease, ok := l.sems[name]; ok {
		if sameHolder(lease.Holder, h) {
			return lease, nil
		}
		return SemaphoreLease{}, &SemaphoreHeldError{Name: name, Holder: lease.Holder}
	}
	l.token++
	lease := SemaphoreLease{Name: name, Token: l.token, Holder: h}
	l.sems[name] = lease
	return lease, nil
}

// ReleaseSemaphore frees the semaphore name if h holds it; otherwise it
// fails with an error wrapping ErrNotHolder.
func (l *Local) ReleaseSemaphore(ctx context.Context, name string, h Holder) error {
	if h.ReplicaID == "" {
		h.ReplicaID = l.replicaID
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("registry: release semaphore %q: %w", name, ErrClosed)
	}
	lease, ok := l.sems[name]
	if !ok || !sameHolder(lease.Holder, h) {
		return fmt.Errorf("registry: release semaphore %q by character %d: %w", name, h.CharID, ErrNotHolder)
	}
	delete(l.sems, name)
	return nil
}

// ReleaseAll frees every semaphore held by charID.
func (l *Local) ReleaseAll(ctx context.Context, charID uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, lease := range l.sems {
		if lease.Holder.CharID == charID {
			delete(l.sems, name)
		}
	}
}

// Channels returns Info() of every registered channel, sorted by ID.
// Info is called without the registry lock held.
func (l *Local) Channels(ctx context.Context) ([]ChannelInfo, error) {
	chans, err := l.snapshotChannels()
	if err != nil {
		return nil, fmt.Errorf("registry: channels: %w", err)
	}
	out := make([]ChannelInfo, 0, len(chans))
	for _, ch := range chans {
		out = append(out, ch.Info())
	}
	slices.SortFunc(out, func(a, b ChannelInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Close forgets every channel, session, stage and semaphore; later calls
// fail with ErrClosed (or do nothing). Close is idempotent and returns nil.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	clear(l.channels)
	clear(l.presence)
	clear(l.stages)
	clear(l.sems)
	l.log.Info("registry closed")
	return nil
}
