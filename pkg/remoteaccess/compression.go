package remoteaccess

import (
	"context"
	"net/http"
)

// uncompressedKey marks a context whose requests ask for an uncompressed
// response.
type uncompressedKey struct{}

// WithoutCompression returns a context whose requests to a remote cluster,
// made by a client built from Access.RESTConfig, ask for their responses
// uncompressed (Accept-Encoding: identity), on the same connection as the
// others. For the streams of small kinds: since Kubernetes 1.35 an API
// server gzips a watch-list stream for as long as it stays open, and the
// client holds a decompressor (its 32 KiB window and buffers) per stream
// for the stream's life, whatever the stream carries. A kind of which a
// cluster has thousands keeps its compression, for a link that may be a
// WAN.
func WithoutCompression(ctx context.Context) context.Context {
	return context.WithValue(ctx, uncompressedKey{}, true)
}

// compressionChooser is the RoundTripper of Access.RESTConfig that carries
// WithoutCompression out. Go's transport asks for gzip only when a request
// names no Accept-Encoding of its own.
type compressionChooser struct{ next http.RoundTripper }

// RoundTrip sends req, asking for an uncompressed response when its
// context says so and it names no encoding itself.
func (t compressionChooser) RoundTrip(req *http.Request) (*http.Response, error) {
	if off, _ := req.Context().Value(uncompressedKey{}).(bool); off && req.Header.Get("Accept-Encoding") == "" {
		req = req.Clone(req.Context()) // a RoundTripper must not change the request it is given
		req.Header.Set("Accept-Encoding", "identity")
	}
	return t.next.RoundTrip(req)
}

// WrappedRoundTripper returns the RoundTripper t sends through, for
// client-go's introspection of its transport chain.
func (t compressionChooser) WrappedRoundTripper() http.RoundTripper { return t.next }
