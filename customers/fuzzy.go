package customers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/customertrigram"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Typo-tolerant search compares names by their trigrams, as PostgreSQL's
// pg_trgm does: each word, lower-cased and padded with two spaces in front
// and one behind, gives the set of its three-character runs, and two names
// are as similar as the share of trigrams they have in common. The
// trigrams are kept in a table of their own, so near matches are found
// through an index on both engines alike.
const (
	// similarEnough is pg_trgm's default threshold: "wang fnag" finds
	// "wang fang", "jonatan" finds "jonathan".
	similarEnough = 0.3
	// fuzzyCandidates bounds how many customers sharing trigrams with the
	// query are compared, the most shared first.
	fuzzyCandidates = 500
	// fuzzyResults bounds the near matches a search returns.
	fuzzyResults = 100
)

// trigrams is the sorted set of trigrams of a name key.
func trigrams(key string) []string {
	var out []string
	for _, word := range strings.Fields(key) {
		runes := []rune("  " + word + " ")
		for i := 0; i+3 <= len(runes); i++ {
			out = append(out, string(runes[i:i+3]))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// similarity is the share of trigrams a and b (sorted sets) have in common.
func similarity(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	shared := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			shared++
			i++
			j++
		case -1:
			i++
		default:
			j++
		}
	}
	return float64(shared) / float64(len(a)+len(b)-shared)
}

// syncTrigrams makes a customer's trigrams those of its name key: none for
// an erased or merged customer, whose name key is empty.
func syncTrigrams(ctx context.Context, tx *ent.Tx, c *ent.Customer) error {
	if _, err := tx.CustomerTrigram.Delete().Where(customertrigram.CustomerID(c.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("clearing name trigrams: %w", err)
	}
	grams := trigrams(c.NameKey)
	if len(grams) == 0 {
		return nil
	}
	rows := make([]*ent.CustomerTrigramCreate, len(grams))
	for i, g := range grams {
		rows[i] = tx.CustomerTrigram.Create().SetMerchantID(c.MerchantID).SetCustomerID(c.ID).SetTrigram(g)
	}
	if err := tx.CustomerTrigram.CreateBulk(rows...).Exec(ctx); err != nil {
		return fmt.Errorf("indexing name trigrams: %w", err)
	}
	return nil
}

// nearNames finds the active customers whose names are similar enough to
// phrase (a name key), the most similar first, then by name.
func (s *Service) nearNames(ctx context.Context, phrase string) ([]*ent.Customer, error) {
	want := trigrams(phrase)
	if len(want) == 0 {
		return nil, nil
	}
	var shared []struct {
		CustomerID pulid.ID `json:"customer_id"`
		Count      int      `json:"count"`
	}
	err := s.db.CustomerTrigram.Query().
		Where(customertrigram.TrigramIn(want...)).
		GroupBy(customertrigram.FieldCustomerID).
		Aggregate(func(s *sql.Selector) string {
			s.OrderBy(sql.Desc(sql.Count("*"))).Limit(fuzzyCandidates)
			return sql.As(sql.Count("*"), "count")
		}).
		Scan(ctx, &shared)
	if err != nil {
		return nil, fmt.Errorf("finding names sharing trigrams: %w", err)
	}
	ids := make([]pulid.ID, len(shared))
	for i, r := range shared {
		ids[i] = r.CustomerID
	}
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := s.db.Customer.Query().Where(customer.IDIn(ids...), customer.StatusEQ(customer.StatusACTIVE)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading near matches: %w", err)
	}
	score := make(map[pulid.ID]float64, len(found))
	near := found[:0]
	for _, c := range found {
		if sim := similarity(want, trigrams(c.NameKey)); sim >= similarEnough {
			score[c.ID] = sim
			near = append(near, c)
		}
	}
	slices.SortFunc(near, func(a, b *ent.Customer) int {
		return cmp.Or(cmp.Compare(score[b.ID], score[a.ID]), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return near[:min(len(near), fuzzyResults)], nil
}
