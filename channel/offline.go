package channel

import (
	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// NotifyOffline tells every session logged in here that the characters of
// lost went offline without logging out (their replica stopped answering and
// the registry swept its sessions): it pushes wire.PlayersOffline, split
// into messages of at most wire.MaxList players, each encoded once and
// shared by all recipients. Characters of lost that are logged in on this
// channel (they came back here before the sweep) are left out, since they
// are not offline. Names longer than wire.MaxName are truncated. An empty
// lost, or one whose characters are all here, sends nothing.
//
// It is meant for registry callbacks (redisreg's Options.OnSessionsLost)
// and is safe for concurrent use; it does not block on slow clients.
func (s *Server) NotifyOffline(lost []registry.SessionSnapshot) {
	if len(lost) == 0 {
		return
	}
	players := make([]wire.Member, 0, len(lost))
	s.mu.Lock()
	for _, l := range lost {
		if s.byChar[l.CharID] != nil {
			continue
		}
		players = append(players, wire.Member{CharID: l.CharID, Name: truncate(l.Name, wire.MaxName)})
	}
	s.mu.Unlock()
	for len(players) > 0 {
		n := min(len(players), wire.MaxList)
		frame, err := wire.Encode(0, &wire.PlayersOffline{Players: players[:n]})
		if err != nil {
			s.log.Error("encode players offline", "players", n, "err", err)
			return
		}
		s.Broadcast(frame, 0)
		players = players[n:]
	}
}
