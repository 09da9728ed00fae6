package pgstore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/store"
)

func TestMail(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	_, alice := newChar(t, s, "Alice")
	_, bob := newChar(t, s, "Bob")

	var ids []int64
	for _, subj := range []string{"first", "second", "third"} {
		id, err := s.SendMail(ctx, store.Mail{FromID: alice, ToID: bob, Subject: subj, Body: "body of " + subj})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	n, err := s.UnreadMail(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	n, err = s.UnreadMail(ctx, alice)
	require.NoError(t, err)
	require.Zero(t, n)

	list, err := s.ListMail(ctx, bob, 10)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, []string{"third", "second", "first"},
		[]string{list[0].Subject, list[1].Subject, list[2].Subject}, "newest first")
	require.Equal(t, "Alice", list[0].FromName, "sender name filled in")
	require.Equal(t, alice, list[0].FromID)
	require.Equal(t, bob, list[0].ToID)
	require.False(t, list[0].Read)
	require.False(t, list[0].Guild)
	list, err = s.ListMail(ctx, bob, 2)
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = s.ListMail(ctx, bob, 0)
	require.ErrorIs(t, err, pgstore.ErrInvalid)

	m, err := s.ReadMail(ctx, bob, ids[0])
	require.NoError(t, err)
	require.Equal(t, "first", m.Subject)
	require.Equal(t, "body of first", m.Body)
	require.True(t, m.Read)
	n, err = s.UnreadMail(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = s.ReadMail(ctx, alice, ids[1])
	require.ErrorIs(t, err, store.ErrNotFound, "not alice's mail")

	require.ErrorIs(t, s.DeleteMail(ctx, alice, ids[1]), store.ErrNotFound, "cannot delete others' mail")
	require.NoError(t, s.DeleteMail(ctx, bob, ids[1]))
	require.ErrorIs(t, s.DeleteMail(ctx, bob, ids[1]), store.ErrNotFound)
	_, err = s.ReadMail(ctx, bob, ids[1])
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err = s.ListMail(ctx, bob, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	n, err = s.UnreadMail(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Explicit sender name, system mail, bad input.
	id, err := s.SendMail(ctx, store.Mail{FromID: 0, FromName: "System", ToID: alice, Subject: "hi"})
	require.NoError(t, err)
	m, err = s.ReadMail(ctx, alice, id)
	require.NoError(t, err)
	require.Equal(t, "System", m.FromName)
	_, err = s.SendMail(ctx, store.Mail{FromID: alice, ToID: 999999})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.SendMail(ctx, store.Mail{FromID: alice, ToID: bob, Body: strings.Repeat("x", 4097)})
	require.ErrorIs(t, err, store.ErrTooLarge)
}

func TestGuildMail(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	_, leader := newChar(t, s, "Gl")
	_, member := newChar(t, s, "Gm")
	_, outsider := newChar(t, s, "Go")
	gid, err := s.CreateGuild(ctx, leader, "Mailers")
	require.NoError(t, err)
	_, err = s.InviteToGuild(ctx, leader, member)
	require.NoError(t, err)
	require.NoError(t, s.AcceptInvite(ctx, gid, member))

	sent, err := s.SendGuildMail(ctx, gid, store.Mail{FromID: member, Subject: "meet", Body: "at 8"})
	require.NoError(t, err)
	require.Len(t, sent, 2)
	for _, to := range []uint32{leader, member} {
		id, ok := sent[to]
		require.True(t, ok, "mail to %d", to)
		m, err := s.ReadMail(ctx, to, id)
		require.NoError(t, err)
		require.True(t, m.Guild)
		require.Equal(t, "Gm", m.FromName)
		require.Equal(t, "meet", m.Subject)
	}
	n, err := s.UnreadMail(ctx, outsider)
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = s.SendGuildMail(ctx, 999999, store.Mail{FromID: member, Subject: "x"})
	require.ErrorIs(t, err, store.ErrNotFound)
}
