package store

// TrustStore keeps what the trust layer needs: publisher keys per namespace,
// issued certificates, trust events waiting for the transparency log, and
// signed revocation lists.
type TrustStore interface {
}
