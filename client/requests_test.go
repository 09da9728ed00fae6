package client

import (
	"context"
	"reflect"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// TestTypedRequests checks that each method sends the documented request
// with its arguments and turns the documented answer into its result.
func TestTypedRequests(t *testing.T) {
	info := &wire.StageInfo{StageID: "quest-1", HostID: 42, MaxPlayers: 4, Locked: true, HasPassword: true,
		Members: []wire.Member{{CharID: 42, Name: "Alice"}}, Reservations: []wire.Member{{CharID: 7, Name: "Bob", Ready: true}}}
	loc := wire.PlayerLoc{CharID: 7, Name: "Bob", ReplicaID: "r2", ChannelID: 3, Addr: "10.0.0.2:54003", StageID: "town"}
	hdr := wire.MailHeader{ID: 5, FromID: 7, FromName: "Bob", Subject: "hi", SentAt: 1700000000, Read: true}
	cases := []struct {
		name string
		call func(ctx context.Context, c *Conn) (any, error)
		req  wire.Message // what the server must receive
		resp wire.Message // what it answers
		want any          // the method's result
	}{
		{"StageCreate", func(ctx context.Context, c *Conn) (any, error) { return nil, c.StageCreate(ctx, "quest-1", 4, "pw") },
			&wire.StageCreate{StageID: "quest-1", MaxPlayers: 4, Password: "pw"}, &wire.OK{}, nil},
		{"StageEnter", func(ctx context.Context, c *Conn) (any, error) { return c.StageEnter(ctx, "quest-1", "pw") },
			&wire.StageEnter{StageID: "quest-1", Password: "pw"}, info, info},
		{"StageMove", func(ctx context.Context, c *Conn) (any, error) { return c.StageMove(ctx, "quest-1", "") },
			&wire.StageMove{StageID: "quest-1"}, info, info},
		{"StageMoveOK", func(ctx context.Context, c *Conn) (any, error) { return c.StageMove(ctx, "quest-2", "") },
			&wire.StageMove{StageID: "quest-2"}, &wire.OK{}, &wire.StageInfo{StageID: "quest-2"}},
		{"StageBack", func(ctx context.Context, c *Conn) (any, error) { return c.StageBack(ctx) },
			&wire.StageBack{}, info, info},
		{"StageLeave", func(ctx context.Context, c *Conn) (any, error) { return nil, c.StageLeave(ctx) },
			&wire.StageLeave{}, &wire.OK{}, nil},
		{"StageLock", func(ctx context.Context, c *Conn) (any, error) { return nil, c.StageLock(ctx, "quest-1", true) },
			&wire.StageLock{StageID: "quest-1", Locked: true}, &wire.OK{}, nil},
		{"StageReserve", func(ctx context.Context, c *Conn) (any, error) { return nil, c.StageReserve(ctx, "quest-1", "pw") },
			&wire.StageReserve{StageID: "quest-1", Password: "pw"}, &wire.OK{}, nil},
		{"StageUnreserve", func(ctx context.Context, c *Conn) (any, error) { return nil, c.StageUnreserve(ctx, "quest-1") },
			&wire.StageUnreserve{StageID: "quest-1"}, &wire.OK{}, nil},
		{"StageReady", func(ctx context.Context, c *Conn) (any, error) { return nil, c.StageReady(ctx, "quest-1", true) },
			&wire.StageReady{StageID: "quest-1", Ready: true}, &wire.OK{}, nil},
		{"StageSetBinary", func(ctx context.Context, c *Conn) (any, error) {
			return nil, c.StageSetBinary(ctx, "quest-1", 3, []byte{1, 2})
		}, &wire.StageSetBinary{StageID: "quest-1", Key: 3, Data: []byte{1, 2}}, &wire.OK{}, nil},
		{"StageGetBinary", func(ctx context.Context, c *Conn) (any, error) { return c.StageGetBinary(ctx, "quest-1", 3) },
			&wire.StageGetBinary{StageID: "quest-1", Key: 3}, &wire.StageBinary{StageID: "quest-1", Key: 3, Data: []byte{9, 8}}, []byte{9, 8}},
		{"StageClients", func(ctx context.Context, c *Conn) (any, error) { return c.StageClients(ctx, "quest-1") },
			&wire.StageClients{StageID: "quest-1"}, info, info},
		{"StageList", func(ctx context.Context, c *Conn) (any, error) { return c.StageList(ctx, "quest", 10, true) },
			&wire.StageList{Prefix: "quest", Max: 10, Cluster: true},
			&wire.StageListResp{Stages: []wire.StageEntry{{StageID: "quest-1", ChannelID: 2, Addr: "a:1", Players: 1, MaxPlayers: 4}}},
			[]wire.StageEntry{{StageID: "quest-1", ChannelID: 2, Addr: "a:1", Players: 1, MaxPlayers: 4}}},
		{"Cast", func(ctx context.Context, c *Conn) (any, error) {
			return c.Cast(ctx, wire.ScopeTargets, []uint32{7, 9}, []byte("hey"))
		}, &wire.Cast{Scope: wire.ScopeTargets, Targets: []uint32{7, 9}, Payload: []byte("hey")}, &wire.OK{ID: 2}, uint64(2)},
		{"SemaAcquire", func(ctx context.Context, c *Conn) (any, error) { return c.SemaAcquire(ctx, "raid", true, 0) },
			&wire.SemaAcquire{Name: "raid", Global: true}, &wire.OK{ID: 77}, uint64(77)},
		{"SemaRelease", func(ctx context.Context, c *Conn) (any, error) { return nil, c.SemaRelease(ctx, "raid", true) },
			&wire.SemaRelease{Name: "raid", Global: true}, &wire.OK{}, nil},
		{"SemaWrite", func(ctx context.Context, c *Conn) (any, error) { return nil, c.SemaWrite(ctx, "raid", []byte("v")) },
			&wire.SemaWrite{Name: "raid", Data: []byte("v")}, &wire.OK{}, nil},
		{"SaveData", func(ctx context.Context, c *Conn) (any, error) { return nil, c.SaveData(ctx, []byte("save")) },
			&wire.SaveData{Data: []byte("save")}, &wire.OK{}, nil},
		{"LoadData", func(ctx context.Context, c *Conn) (any, error) { return c.LoadData(ctx) },
			&wire.LoadData{}, &wire.CharData{Data: []byte("save"), Hash: []byte{1}, Playtime: 60},
			&wire.CharData{Data: []byte("save"), Hash: []byte{1}, Playtime: 60}},
		{"MailSend", func(ctx context.Context, c *Conn) (any, error) { return c.MailSend(ctx, 0, "Bob", "hi", "body") },
			&wire.MailSend{ToName: "Bob", Subject: "hi", Body: "body"}, &wire.OK{ID: 5}, int64(5)},
		{"MailList", func(ctx context.Context, c *Conn) (any, error) { return c.MailList(ctx) },
			&wire.MailList{}, &wire.MailListResp{Mail: []wire.MailHeader{hdr}}, []wire.MailHeader{hdr}},
		{"MailRead", func(ctx context.Context, c *Conn) (any, error) { return c.MailRead(ctx, 5) },
			&wire.MailRead{ID: 5}, &wire.MailBody{Header: hdr, Body: "body"}, &wire.MailBody{Header: hdr, Body: "body"}},
		{"MailDelete", func(ctx context.Context, c *Conn) (any, error) { return nil, c.MailDelete(ctx, 5) },
			&wire.MailDelete{ID: 5}, &wire.OK{}, nil},
		{"GuildCreate", func(ctx context.Context, c *Conn) (any, error) { return c.GuildCreate(ctx, "Knights") },
			&wire.GuildCreate{Name: "Knights"}, &wire.OK{ID: 12}, uint32(12)},
		{"GuildInvite", func(ctx context.Context, c *Conn) (any, error) { return nil, c.GuildInvite(ctx, 7) },
			&wire.GuildInvite{CharID: 7}, &wire.OK{}, nil},
		{"GuildApply", func(ctx context.Context, c *Conn) (any, error) { return nil, c.GuildApply(ctx, 12) },
			&wire.GuildApply{GuildID: 12}, &wire.OK{}, nil},
		{"GuildAccept", func(ctx context.Context, c *Conn) (any, error) { return nil, c.GuildAccept(ctx, 0, 7) },
			&wire.GuildAccept{CharID: 7}, &wire.OK{}, nil},
		{"GuildLeave", func(ctx context.Context, c *Conn) (any, error) { return nil, c.GuildLeave(ctx) },
			&wire.GuildLeave{}, &wire.OK{}, nil},
		{"GuildKick", func(ctx context.Context, c *Conn) (any, error) { return nil, c.GuildKick(ctx, 7) },
			&wire.GuildKick{CharID: 7}, &wire.OK{}, nil},
		{"GuildMembers", func(ctx context.Context, c *Conn) (any, error) { return c.GuildMembers(ctx) },
			&wire.GuildMembers{}, &wire.GuildInfo{GuildID: 12, Name: "Knights", LeaderID: 42, Members: []wire.Member{{CharID: 42, Name: "Alice", Ready: true}}},
			&wire.GuildInfo{GuildID: 12, Name: "Knights", LeaderID: 42, Members: []wire.Member{{CharID: 42, Name: "Alice", Ready: true}}}},
		{"GuildMail", func(ctx context.Context, c *Conn) (any, error) { return c.GuildMail(ctx, "s", "b") },
			&wire.GuildMail{Subject: "s", Body: "b"}, &wire.OK{ID: 3}, uint64(3)},
		{"FindPlayer", func(ctx context.Context, c *Conn) (any, error) { return c.FindPlayer(ctx, 0, "Bob") },
			&wire.FindPlayer{Name: "Bob"}, &wire.PlayerInfo{Found: true, Player: loc}, &wire.PlayerInfo{Found: true, Player: loc}},
		{"SearchPlayers", func(ctx context.Context, c *Conn) (any, error) { return c.SearchPlayers(ctx, "B", "town", 20) },
			&wire.SearchPlayers{NamePrefix: "B", StageID: "town", Max: 20}, &wire.PlayerList{Players: []wire.PlayerLoc{loc}}, []wire.PlayerLoc{loc}},
	}
	type got struct {
		reqID uint32
		msg   wire.Message
	}
	received := make(chan got, 1)
	answers := make(chan wire.Message, 1)
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		received <- got{f.ReqID, m}
		s.send(f.ReqID, <-answers)
	})
	c, _ := dial(t, fs)
	ctx := testCtx(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			answers <- tc.resp
			res, err := tc.call(ctx, c)
			g := <-received
			if g.reqID == 0 {
				t.Errorf("request sent with ID 0")
			}
			if !reflect.DeepEqual(g.msg, tc.req) {
				t.Errorf("server received %#v, want %#v", g.msg, tc.req)
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if tc.want == nil {
				return
			}
			if !reflect.DeepEqual(res, tc.want) {
				t.Errorf("result %#v, want %#v", res, tc.want)
			}
		})
	}
}

func TestPing(t *testing.T) {
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		s.send(f.ReqID, &wire.Pong{ClientTime: m.(*wire.Ping).ClientTime, ServerTime: 99})
	})
	c, _ := dial(t, fs)
	p, err := c.Ping(testCtx(t))
	if err != nil || p.ServerTime != 99 || p.ClientTime == 0 {
		t.Fatalf("Ping = %+v, %v", p, err)
	}
}
