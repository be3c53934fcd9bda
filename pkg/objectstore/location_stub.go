package objectstore

// TEMPORARY: replaced by location.go (helper's work) at merge.

import (
	"context"
	"errors"
	"net/url"
)

type LocationConfig struct {
	Provider, Bucket, Prefix string
	Config                   map[string]string
	Credential               []byte
}

func OpenLocation(ctx context.Context, c LocationConfig) (Store, error) {
	if len(c.Credential) > 0 {
		return nil, errors.New("credentials not supported yet")
	}
	u := url.URL{Path: "/" + c.Prefix}
	switch c.Provider {
	case "file":
		u.Scheme, u.Path = "file", c.Bucket
	case "gcp":
		u.Scheme, u.Host = "gs", c.Bucket
	case "aws":
		u.Scheme, u.Host = "s3", c.Bucket
		q := url.Values{}
		for k, v := range c.Config {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	return Open(ctx, u.String())
}
