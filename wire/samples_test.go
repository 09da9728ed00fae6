package wire_test

import (
	"github.com/guildhall/guildhall/wire"
)

// samples returns one message of every type with non-trivial field values:
// every string, list and byte string non-empty, every bool true somewhere.
func samples() []wire.Message {
	alice := wire.Member{CharID: 42, Name: "Alice", Ready: true}
	bob := wire.Member{CharID: 0xDEADBEEF, Name: "Bøb"}
	hdr := wire.MailHeader{ID: -5, FromID: 7, FromName: "Bob", Subject: "re: raid ✓", SentAt: 1_700_000_000, Read: true, Guild: true}
	loc := wire.PlayerLoc{CharID: 7, Name: "Bob", ReplicaID: "replica-b", ChannelID: 3, Addr: "10.0.0.2:54003", StageID: "town-1"}
	return []wire.Message{
		&wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: "0123456789abcdef"},
		&wire.Welcome{Version: 1, CharID: 42, Name: "Alice", ChannelID: 2, ServerTime: 1_700_000_000_123_456_789, UnreadMail: 3, GuildID: 9},
		&wire.Error{Code: wire.CodeSemaHeld, Message: "semaphore held", Channel: 2, Addr: "127.0.0.1:54002"},
		&wire.OK{ID: 0xFFFF_FFFF_FFFF_FFFE},
		&wire.Ping{ClientTime: -1},
		&wire.Pong{ClientTime: 123, ServerTime: 456},
		&wire.Logout{},
		&wire.StageCreate{StageID: "quest-1", MaxPlayers: 4, Password: "pw"},
		&wire.StageEnter{StageID: "town", Password: "x"},
		&wire.StageMove{StageID: "arena", Password: "y"},
		&wire.StageBack{},
		&wire.StageLeave{},
		&wire.StageLock{StageID: "quest-1", Locked: true},
		&wire.StageReserve{StageID: "quest-1", Password: "pw"},
		&wire.StageUnreserve{StageID: "quest-1"},
		&wire.StageReady{StageID: "quest-1", Ready: true},
		&wire.StageSetBinary{StageID: "quest-1", Key: 3, Data: []byte{0, 1, 2, 255}},
		&wire.StageGetBinary{StageID: "quest-1", Key: 3},
		&wire.StageClients{StageID: "quest-1"},
		&wire.StageList{Prefix: "quest", Max: 50, Cluster: true},
		&wire.StageInfo{StageID: "quest-1", HostID: 42, MaxPlayers: 4, Locked: true, HasPassword: true,
			Members: []wire.Member{alice, bob}, Reservations: []wire.Member{bob}},
		&wire.StageBinary{StageID: "quest-1", Key: 3, Data: []byte("data")},
		&wire.StageListResp{Stages: []wire.StageEntry{
			{StageID: "quest-1", ChannelID: 1, Addr: "127.0.0.1:54001", Players: 2, MaxPlayers: 4, Locked: true, HasPassword: true},
			{StageID: "quest-2", ChannelID: 2, Addr: "127.0.0.1:54002", Players: 1, MaxPlayers: 8},
		}},
		&wire.StageJoined{StageID: "town", CharID: 7, Name: "Bob"},
		&wire.StageLeft{StageID: "town", CharID: 7},
		&wire.CastMsg{Scope: wire.ScopeWorld, SenderID: 42, SenderName: "Alice", Payload: []byte("hello world")},
		&wire.MailNotify{MailID: 99, FromID: 7, FromName: "Bob", Subject: "loot"},
		&wire.Kicked{Reason: "logged in elsewhere"},
		&wire.Notice{Text: "server restarting in 5 minutes"},
		&wire.GuildEvent{GuildID: 12, GuildName: "Knights", Event: wire.GuildJoined, CharID: 7, Name: "Bob"},
		&wire.PlayersOffline{Players: []wire.Member{alice, bob}},
		&wire.Cast{Scope: wire.ScopeTargets, Targets: []uint32{7, 8, 0xFFFFFFFF}, Payload: []byte("psst")},
		&wire.SemaAcquire{Name: "raid-1", Global: true, Capacity: 32},
		&wire.SemaRelease{Name: "raid-1", Global: true},
		&wire.SemaWrite{Name: "raid-1", Data: []byte("state")},
		&wire.SaveData{Data: []byte("save data bytes")},
		&wire.LoadData{},
		&wire.CharData{Data: []byte("save"), Hash: make32(), Playtime: 3600},
		&wire.MailSend{ToID: 0, ToName: "Bob", Subject: "hi", Body: "long body\nwith lines"},
		&wire.MailList{},
		&wire.MailRead{ID: 5},
		&wire.MailDelete{ID: 6},
		&wire.MailListResp{Mail: []wire.MailHeader{hdr, {ID: 1, FromID: 2, FromName: "C", Subject: "s", SentAt: 3}}},
		&wire.MailBody{Header: hdr, Body: "the body"},
		&wire.GuildCreate{Name: "Knights"},
		&wire.GuildInvite{CharID: 7},
		&wire.GuildApply{GuildID: 12},
		&wire.GuildAccept{GuildID: 12, CharID: 7},
		&wire.GuildLeave{},
		&wire.GuildKick{CharID: 7},
		&wire.GuildMembers{},
		&wire.GuildMail{Subject: "meeting", Body: "tonight"},
		&wire.GuildInfo{GuildID: 12, Name: "Knights", LeaderID: 42, Members: []wire.Member{alice, bob}},
		&wire.FindPlayer{CharID: 0, Name: "Bob"},
		&wire.SearchPlayers{NamePrefix: "B", StageID: "town", Max: 20},
		&wire.PlayerInfo{Found: true, Player: loc},
		&wire.PlayerList{Players: []wire.PlayerLoc{loc, {CharID: 8, Name: "Dee", ReplicaID: "r", ChannelID: 1, Addr: "a:1", StageID: "s"}}},
	}
}

func make32() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}
