package channel

import "github.com/guildhall/guildhall/registry"

// localSema is a named semaphore of one channel with a capacity (raids may
// have many members; most semaphores have capacity 1). Guarded by
// Server.semaMu.
type localSema struct {
	capacity int
	holders  map[uint32]struct{}
}

// acquireLocal takes the named local semaphore for charID. capacity 0 means
// 1 and is capped at MaxSemaphoreCapacity; the capacity of an existing
// semaphore is the one it was created with. It reports false if full.
func (s *Server) acquireLocal(name string, charID uint32, capacity int) bool {
	if capacity <= 0 {
		capacity = 1
	}
	capacity = min(capacity, MaxSemaphoreCapacity)
	s.semaMu.Lock()
	defer s.semaMu.Unlock()
	sem := s.semas[name]
	if sem == nil {
		sem = &localSema{capacity: capacity, holders: make(map[uint32]struct{})}
		s.semas[name] = sem
	}
	if _, held := sem.holders[charID]; held {
		return true
	}
	if len(sem.holders) >= sem.capacity {
		return false
	}
	sem.holders[charID] = struct{}{}
	return true
}

// releaseLocal releases the named local semaphore if charID holds it and
// reports whether it did. An emptied semaphore is forgotten.
func (s *Server) releaseLocal(name string, charID uint32) bool {
	s.semaMu.Lock()
	defer s.semaMu.Unlock()
	sem := s.semas[name]
	if sem == nil {
		return false
	}
	if _, held := sem.holders[charID]; !held {
		return false
	}
	delete(sem.holders, charID)
	if len(sem.holders) == 0 {
		delete(s.semas, name)
	}
	return true
}

// releaseLocalAll releases every local semaphore the session holds (logout).
func (s *Server) releaseLocalAll(sess *session) {
	for name := range sess.localSemas {
		s.releaseLocal(name, sess.charID)
	}
	sess.localSemas = nil
	sess.globalSema = nil
}

// holder is the session's identity for global semaphores.
func (s *session) holder() registry.Holder {
	return registry.Holder{CharID: s.charID, ReplicaID: s.srv.cfg.ReplicaID, ChannelID: s.srv.cfg.ID, Addr: s.addr}
}
