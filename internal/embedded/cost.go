package embedded

import (
	"context"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// EstimateCount is the engine's estimate of a query's cost, so that the
// backend is an analytics.CountEstimator as its engine is (the embedded
// Source interface does not carry the engine's other methods).
func (b *Backend) EstimateCount(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery) (analytics.Cost, error) {
	return b.index.EstimateCount(ctx, account, q)
}
