// Package channel is a guildhall channel server: one TCP listener, its
// sessions, its stages (rooms) and its local semaphores, and the packet
// handlers of protocol v1 (package wire). Everything that crosses channels
// or replicas goes through a registry.ChannelRegistry; the server implements
// registry.Channel so a registry can deliver to its sessions.
//
// # Goroutines
//
// Every goroutine of a Server is started through Server.spawn, which counts
// it in one sync.WaitGroup and refuses to start anything once Shutdown has
// begun waiting. Server loops (accept, idle sweeper) select on the one done
// channel, closed exactly once. Each connection has a receive goroutine
// (handshake, receive loop, request handlers and, at its end, logout) for
// its whole life, and a send goroutine (drains the send queue into one
// write) only while it has something to send: the first frame queued
// starts it, and it exits once the queue has stayed empty for a while
// (DefaultWriterLinger), so an idle session costs one goroutine. At most one
// send goroutine runs per connection (sendQueue records it). If Shutdown
// refuses to start one, the socket is closed at once.
// No goroutine sends on a channel that another goroutine may close: the
// only channels closed are done, a session's closing and loggedOut channels,
// each closed once under a sync.Once, and they are only ever received from.
//
// # Lock order
//
//	Server.mu → stage.mu → session.mu → sendQueue.mu
//
// A lock later in the order may be taken while holding an earlier one,
// never the reverse. Server.semaMu is a leaf lock taken alone; Server.goMu
// is a leaf too (a send goroutine may be started while holding any lock).
// Closing a session (session.close) takes no Server or stage lock, so it
// may be called while holding any of them.
//
// stage.pubMu and session.pubMu order publishes: each is taken alone, never
// while holding another lock of this package (it may then take the locks
// above), and is held across one registry call (StageUpdated/StageRemoved,
// SessionUpdated/SessionOffline), so that one stage's or one session's
// publishes reach the registry in the order of the states they carry.
// Nothing the registry calls back into (the registry.Channel methods)
// takes them. Apart from them, no lock of this package is held while
// calling the registry or the store (and the registry never holds its own
// lock while calling into a Channel), so a call into the registry can never
// deadlock with a delivery coming back from it.
//
// # Logout
//
// Logout runs exactly once per logged-in session, in its receive goroutine,
// whatever ended the session (client Logout, idle timeout, read error, kick,
// shutdown, slow consumer, panic): leave the stage, drop reservations,
// release local semaphores, registry.ReleaseAll, Store.SaveCharacter with
// retries bounded by Config.SaveTimeout, and only then
// registry.SessionOffline and removal from Server.byChar; then the
// session's loggedOut channel is closed (Disconnect waits on it). Until the
// save is done the character is still present, so a login elsewhere kicks
// this session and waits for the save before loading the character.
package channel
