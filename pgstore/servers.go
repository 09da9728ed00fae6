package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/guildhall/guildhall/store"
)

func channelIDs(ids []uint16) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// ClaimServers records that replicaID runs the channels of rows, in one
// transaction: any existing rows for those channel IDs (stale rows of a
// previous owner) are replaced. The caller passes only channels it actually
// runs; rows' ReplicaID and Updated are ignored (replicaID and now are
// stored). ErrInvalid for an empty replicaID or a channel ID given twice.
func (s *Store) ClaimServers(ctx context.Context, replicaID string, rows []store.ServerRow) error {
	if replicaID == "" {
		return mapErr("claim servers", fmt.Errorf("empty replica ID: %w", ErrInvalid))
	}
	ids := make([]uint16, 0, len(rows))
	seen := map[uint16]bool{}
	for _, r := range rows {
		if seen[r.ChannelID] {
			return mapErr("claim servers", fmt.Errorf("channel %d listed twice: %w", r.ChannelID, ErrInvalid))
		}
		seen[r.ChannelID] = true
		ids = append(ids, r.ChannelID)
	}
	if len(rows) == 0 {
		return nil
	}
	err := s.tx(ctx, "claim servers", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM servers WHERE channel_id = ANY($1)`, channelIDs(ids)); err != nil {
			return err
		}
		for _, r := range rows {
			if _, err := tx.Exec(ctx, `INSERT INTO servers (channel_id, replica_id, name, addr, population, max_players)
				VALUES ($1, $2, $3, $4, $5, $6)`,
				int32(r.ChannelID), replicaID, r.Name, r.Addr, r.Population, r.MaxPlayers); err != nil {
				return fmt.Errorf("channel %d: %w", r.ChannelID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("pgstore: servers claimed", "replica_id", replicaID, "channels", ids)
	return nil
}

// UpdatePopulation sets the population of channelID if replicaID owns its
// row; store.ErrNotFound otherwise (another replica's row is never touched).
func (s *Store) UpdatePopulation(ctx context.Context, replicaID string, channelID uint16, n int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE servers SET population = $3, updated_at = now()
		WHERE replica_id = $1 AND channel_id = $2`, replicaID, int32(channelID), n)
	if err != nil {
		return mapErr("update population", err)
	}
	if tag.RowsAffected() == 0 {
		return mapErr("update population", fmt.Errorf("channel %d of replica %q: %w", channelID, replicaID, store.ErrNotFound))
	}
	return nil
}

// RemoveServers deletes the rows of channelIDs that replicaID owns; rows of
// other replicas are left alone.
func (s *Store) RemoveServers(ctx context.Context, replicaID string, ids []uint16) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM servers WHERE replica_id = $1 AND channel_id = ANY($2)`,
		replicaID, channelIDs(ids))
	return mapErr("remove servers", err)
}

// ReapReplica deletes the servers rows and sign sessions of deadReplicaID,
// in one transaction, and returns how many rows it deleted (both kinds).
// A live replica calls it once the dead one's lease has expired.
func (s *Store) ReapReplica(ctx context.Context, deadReplicaID string) (int64, error) {
	if deadReplicaID == "" {
		return 0, mapErr("reap replica", fmt.Errorf("empty replica ID: %w", ErrInvalid))
	}
	var n int64
	err := s.tx(ctx, "reap replica", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM servers WHERE replica_id = $1`, deadReplicaID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `DELETE FROM sign_sessions WHERE replica_id = $1`, deadReplicaID)
		n += tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("pgstore: replica reaped", "replica_id", deadReplicaID, "rows", n)
	return n, nil
}

// Servers returns every servers row, by channel ID.
func (s *Store) Servers(ctx context.Context) ([]store.ServerRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT channel_id, replica_id, name, addr, population, max_players, updated_at
		FROM servers ORDER BY channel_id`)
	if err != nil {
		return nil, mapErr("servers", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ServerRow, error) {
		var sr store.ServerRow
		var id int32
		err := r.Scan(&id, &sr.ReplicaID, &sr.Name, &sr.Addr, &sr.Population, &sr.MaxPlayers, &sr.Updated)
		sr.ChannelID = uint16(id)
		return sr, err
	})
	return out, mapErr("servers", err)
}
