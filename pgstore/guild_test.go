package pgstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/store"
)

func memberIDs(g store.Guild) []uint32 {
	var ids []uint32
	for _, m := range g.Members {
		ids = append(ids, m.CharID)
	}
	return ids
}

func TestGuildFlows(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	_, leader := newChar(t, s, "Leader")
	_, invitee := newChar(t, s, "Invitee")
	_, applicant := newChar(t, s, "Applicant")
	_, outsider := newChar(t, s, "Outsider")
	_, rival := newChar(t, s, "Rival")

	gid, err := s.CreateGuild(ctx, leader, "Hunters")
	require.NoError(t, err)
	_, err = s.CreateGuild(ctx, rival, "hunters")
	require.ErrorIs(t, err, store.ErrExists, "guild names are case-insensitive")
	_, err = s.CreateGuild(ctx, leader, "Second")
	require.ErrorIs(t, err, store.ErrExists, "leader already in a guild")
	_, err = s.CreateGuild(ctx, 999999, "Ghosts")
	require.ErrorIs(t, err, store.ErrNotFound)

	g, err := s.Guild(ctx, gid)
	require.NoError(t, err)
	require.Equal(t, "Hunters", g.Name)
	require.Equal(t, leader, g.LeaderID)
	require.Equal(t, []uint32{leader}, memberIDs(g))
	require.Equal(t, "Leader", g.Members[0].Name)
	c, err := s.LoadCharacter(ctx, leader)
	require.NoError(t, err)
	require.Equal(t, gid, c.GuildID)

	// Invite + accept.
	require.ErrorIs(t, s.AcceptInvite(ctx, gid, invitee), store.ErrForbidden, "no invitation yet")
	_, err = s.InviteToGuild(ctx, invitee, outsider)
	require.ErrorIs(t, err, store.ErrForbidden, "non-leader cannot invite")
	got, err := s.InviteToGuild(ctx, leader, invitee)
	require.NoError(t, err)
	require.Equal(t, gid, got)
	_, err = s.InviteToGuild(ctx, leader, invitee)
	require.NoError(t, err, "inviting twice is harmless")
	require.NoError(t, s.AcceptInvite(ctx, gid, invitee))
	require.ErrorIs(t, s.AcceptInvite(ctx, gid, invitee), store.ErrForbidden, "invitation used up")
	_, err = s.InviteToGuild(ctx, leader, invitee)
	require.ErrorIs(t, err, store.ErrExists, "already a member")

	// Apply + accept.
	_, err = s.AcceptApplication(ctx, leader, applicant)
	require.ErrorIs(t, err, store.ErrForbidden, "no application yet")
	require.ErrorIs(t, s.ApplyToGuild(ctx, 999999, applicant), store.ErrNotFound)
	require.ErrorIs(t, s.ApplyToGuild(ctx, gid, invitee), store.ErrExists)
	require.NoError(t, s.ApplyToGuild(ctx, gid, applicant))
	_, err = s.AcceptApplication(ctx, invitee, applicant)
	require.ErrorIs(t, err, store.ErrForbidden, "non-leader cannot accept")
	got, err = s.AcceptApplication(ctx, leader, applicant)
	require.NoError(t, err)
	require.Equal(t, gid, got)

	g, err = s.Guild(ctx, gid)
	require.NoError(t, err)
	require.ElementsMatch(t, []uint32{leader, invitee, applicant}, memberIDs(g))

	// Kick.
	_, err = s.KickFromGuild(ctx, invitee, applicant)
	require.ErrorIs(t, err, store.ErrForbidden, "non-leader cannot kick")
	_, err = s.KickFromGuild(ctx, leader, leader)
	require.ErrorIs(t, err, store.ErrForbidden, "leader cannot kick itself")
	_, err = s.KickFromGuild(ctx, leader, outsider)
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.KickFromGuild(ctx, leader, applicant)
	require.NoError(t, err)
	require.Equal(t, gid, got)
	c, err = s.LoadCharacter(ctx, applicant)
	require.NoError(t, err)
	require.Zero(t, c.GuildID)

	// A member leaves; the guild stays.
	got, disbanded, err := s.LeaveGuild(ctx, invitee)
	require.NoError(t, err)
	require.Equal(t, gid, got)
	require.False(t, disbanded)
	g, err = s.Guild(ctx, gid)
	require.NoError(t, err)
	require.Equal(t, []uint32{leader}, memberIDs(g))
	_, _, err = s.LeaveGuild(ctx, invitee)
	require.ErrorIs(t, err, store.ErrNotFound)

	// The leader leaving disbands, including members and pending requests.
	_, err = s.InviteToGuild(ctx, leader, invitee)
	require.NoError(t, err)
	require.NoError(t, s.AcceptInvite(ctx, gid, invitee))
	_, err = s.InviteToGuild(ctx, leader, outsider)
	require.NoError(t, err)
	got, disbanded, err = s.LeaveGuild(ctx, leader)
	require.NoError(t, err)
	require.Equal(t, gid, got)
	require.True(t, disbanded)
	_, err = s.Guild(ctx, gid)
	require.ErrorIs(t, err, store.ErrNotFound)
	c, err = s.LoadCharacter(ctx, invitee)
	require.NoError(t, err)
	require.Zero(t, c.GuildID, "members freed")
	require.ErrorIs(t, s.AcceptInvite(ctx, gid, outsider), store.ErrForbidden, "requests gone")

	// Freed characters can found guilds again, even with the old name.
	_, err = s.CreateGuild(ctx, invitee, "Hunters")
	require.NoError(t, err)
}

func TestAcceptingOneRequestWithdrawsOthers(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	_, l1 := newChar(t, s, "L1")
	_, l2 := newChar(t, s, "L2")
	_, c := newChar(t, s, "C")
	g1, err := s.CreateGuild(ctx, l1, "One")
	require.NoError(t, err)
	g2, err := s.CreateGuild(ctx, l2, "Two")
	require.NoError(t, err)
	_, err = s.InviteToGuild(ctx, l1, c)
	require.NoError(t, err)
	_, err = s.InviteToGuild(ctx, l2, c)
	require.NoError(t, err)
	require.NoError(t, s.AcceptInvite(ctx, g1, c))
	require.ErrorIs(t, s.AcceptInvite(ctx, g2, c), store.ErrForbidden)
}
