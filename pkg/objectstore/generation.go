package objectstore

import (
	"errors"
	"fmt"
)

// planWrite decides, for a write of key under cond to a backend whose
// objects carry Ark's generation in their metadata and change by ETag (S3,
// Azure), the generation the new object gets and the ETag the write must
// match. head reads the object's current attributes and ETag (ErrNotFound
// when there is none). The generation is now (in microseconds) or one past
// the current one, whichever is greater, so it always grows; a condition
// that already fails is ErrPreconditionFailed before anything is uploaded.
func planWrite[E any](key string, cond Conditions, now int64, head func() (ObjectAttrs, E, error)) (gen int64, ifMatch *E, err error) {
	cur, etag, err := head()
	switch {
	case errors.Is(err, ErrNotFound):
		if cond.GenerationMatch != 0 {
			return 0, nil, fmt.Errorf("%s does not exist, required at generation %d: %w", key, cond.GenerationMatch, ErrPreconditionFailed)
		}
		return now, nil, nil
	case err != nil:
		return 0, nil, err
	case cond.DoesNotExist:
		return 0, nil, fmt.Errorf("%s exists: %w", key, ErrPreconditionFailed)
	case cond.GenerationMatch != 0 && cur.Generation != cond.GenerationMatch:
		return 0, nil, fmt.Errorf("%s is at generation %d, not %d: %w", key, cur.Generation, cond.GenerationMatch, ErrPreconditionFailed)
	case cond.GenerationMatch != 0:
		return max(cur.Generation+1, now), &etag, nil
	default:
		return max(cur.Generation+1, now), nil, nil
	}
}
