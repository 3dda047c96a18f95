package marketplace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// Files of the data folder's keys/ directory (mode 0700). Private keys are
// mode 0600.
const (
	KeysDir            = "keys"
	MarketplaceKeyFile = "marketplace.key"
	MarketplacePubFile = "marketplace.pub"
	LogKeyFile         = "log.key"
	LogPubFile         = "log.pub"
	// KeyringFile lists every marketplace key with its window, retired ones
	// included, so certificates signed before a rotation keep verifying.
	KeyringFile = "keyring.json"
	// LogDir is the transparency log's directory in the data folder.
	LogDir = "log"
	// DefaultLogOrigin names the log when the configuration does not.
	DefaultLogOrigin = "gatehouse.local/log"
	// trustInterval is how often runTrust publishes queued events and
	// checks the revocation list's age.
	trustInterval = 30 * time.Second
)

// openTrust sets up the marketplace keys, the certifier, the transparency log and the revocation list.
func (m *Marketplace) openTrust(ctx context.Context, p *parts) error {
	keys := filepath.Join(m.cfg.Data, KeysDir)
	signer, keyring, err := loadMarketplaceKeys(keys, trust.Algorithm(m.cfg.KeyAlgorithm), time.Now())
	if err != nil {
		return err
	}
	// The log key signs checkpoints as a C2SP signed note, which is
	// Ed25519 only.
	logSigner, _, err := trust.LoadOrGenerate(filepath.Join(keys, LogKeyFile), filepath.Join(keys, LogPubFile), trust.Ed25519)
	if err != nil {
		return fmt.Errorf("the log key: %w", err)
	}
	// The log's tiles and checkpoint: what the integrator writes and every
	// process serves. They go where the blobs go: the data folder's log/
	// by default, objects under log/ of the blob store named by --blobs,
	// which every process shares.
	storage := m.logStorage()
	origin := m.cfg.LogOrigin
	if origin == "" {
		if origin, err = logOrigin(ctx, storage); err != nil {
			return err
		}
	}
	svc, err := certify.New(ctx, certify.Config{
		Store: m.Store, Signer: signer, Keyring: keyring, LogSigner: logSigner, LogOrigin: origin, LogStorage: storage, Logger: m.cfg.Log,
		ReadOnlyLog: m.cfg.Role == RoleAPI, FirstEnvironment: m.cfg.environments().First(), SigstoreRoot: m.sigstoreRoot,
		Packages: m.Intake, // to emit each certified version's SBOMs
	})
	if err != nil {
		return err
	}
	// Events queued by a run that stopped before publishing them, and a
	// first revocation list, before the first request.
	if _, err := svc.Publish(ctx); err != nil {
		return fmt.Errorf("publishing queued trust events: %w", err)
	}
	if _, err := svc.RefreshRevocations(ctx); err != nil {
		return fmt.Errorf("publishing the revocation list: %w", err)
	}
	m.Trust = svc
	m.Review.Certifier = svc
	m.Intake.TrustLog = svc
	p.app.Trust = svc
	p.server.TransparencyLog = storage
	return nil
}

// logStorage returns where the transparency log's files live.
func (m *Marketplace) logStorage() tlog.Storage {
	if m.cfg.BlobsURL == "" {
		return tlog.DirStorage(filepath.Join(m.cfg.Data, LogDir))
	}
	return objectLog{m.Blobs}
}

// objectLog keeps a log's files as objects under log/ of a blob store.
type objectLog struct{ objects store.Objects }

// logPrefix is the log's folder among a blob store's objects.
const logPrefix = "log/"

func (o objectLog) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if !tlog.PublishedPath(p) {
		return nil, fmt.Errorf("%q is not a published path of the log: %w", p, fs.ErrNotExist)
	}
	return o.objects.ReadObject(ctx, logPrefix+p)
}

func (o objectLog) WriteFile(ctx context.Context, p string, data []byte) error {
	if !tlog.PublishedPath(p) {
		return fmt.Errorf("%q is not a published path of the log", p)
	}
	return o.objects.WriteObject(ctx, logPrefix+p, data)
}

// closeTrust gives up the log integrator's lease, so that another process
// takes over at once.
func (m *Marketplace) closeTrust() error {
	if m.Trust == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.Trust.Release(ctx)
}

// runTrust runs the background work of the marketplace keys, the certifier, the transparency log and the revocation list until ctx ends.
func (m *Marketplace) runTrust(ctx context.Context) {
	if m.Trust == nil {
		return
	}
	m.Trust.Run(ctx, trustInterval)
}

// logOrigin returns the origin of an existing log (its checkpoint's first
// line), or DefaultLogOrigin for a new one.
func logOrigin(ctx context.Context, st tlog.Storage) (string, error) {
	b, err := st.ReadFile(ctx, tlog.CheckpointPath)
	if errors.Is(err, os.ErrNotExist) {
		return DefaultLogOrigin, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the log's checkpoint: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if len(line) == 0 {
		return "", errors.New("the log's checkpoint has no origin line")
	}
	return string(line), nil
}

// loadMarketplaceKeys loads (or on first start makes) the marketplace key
// and its keyring.
func loadMarketplaceKeys(dir string, alg trust.Algorithm, now time.Time) (*trust.FileSigner, *trust.Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating the keys folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, nil, err
	}
	if alg == "" {
		alg = trust.Ed25519
	}
	if alg != trust.Ed25519 && alg != trust.ECDSAP256 {
		return nil, nil, fmt.Errorf("key algorithm %q: use %s or %s", alg, trust.Ed25519, trust.ECDSAP256)
	}
	signer, _, err := trust.LoadOrGenerate(filepath.Join(dir, MarketplaceKeyFile), filepath.Join(dir, MarketplacePubFile), alg)
	if err != nil {
		return nil, nil, fmt.Errorf("the marketplace key: %w", err)
	}
	kr, err := readKeyring(filepath.Join(dir, KeyringFile))
	if err != nil {
		return nil, nil, err
	}
	if k, ok := kr.Lookup(signer.KeyID()); !ok {
		// The first key's window is open: what it signed before the
		// keyring existed keeps verifying.
		if err := kr.Add(trust.Key{PublicKey: signer.PublicKey()}); err != nil {
			return nil, nil, err
		}
		if err := writeKeyring(filepath.Join(dir, KeyringFile), kr); err != nil {
			return nil, nil, err
		}
	} else if !k.ActiveAt(now) {
		return nil, nil, fmt.Errorf("the marketplace key %s was retired on %s: run `gatehouse keys rotate` again or restore the current key", k.ID, k.NotAfter.Format(time.RFC3339))
	}
	return signer, kr, nil
}

func readKeyring(path string) (*trust.Keyring, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return trust.NewKeyring()
	}
	if err != nil {
		return nil, fmt.Errorf("reading the marketplace keyring: %w", err)
	}
	kr, err := trust.ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("reading the marketplace keyring %s: %w", path, err)
	}
	return kr, nil
}

func writeKeyring(path string, kr *trust.Keyring) error {
	b, err := kr.MarshalJSON()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	w.Write(b)
	w.WriteString("\n")
	w.Flush()
	return trust.WriteFileAtomic(path, out.Bytes(), 0o644)
}

// RotateMarketplaceKey retires the current marketplace key (closing its
// window now, so what it signed keeps verifying) and makes a new one. Run it
// with the server stopped: it takes the data folder's lock to make sure.
func RotateMarketplaceKey(data string, alg trust.Algorithm, now time.Time) (oldID, newID string, err error) {
	dir := filepath.Join(data, KeysDir)
	priv := filepath.Join(dir, MarketplaceKeyFile)
	old, err := trust.LoadSigner(priv)
	if err != nil {
		return "", "", fmt.Errorf("loading the current marketplace key (has this data folder been served yet?): %w", err)
	}
	lock, err := lockData(data)
	if err != nil {
		return "", "", err
	}
	defer closeLock(lock)
	if alg == "" {
		alg = old.Algorithm()
	}
	kr, err := readKeyring(filepath.Join(dir, KeyringFile))
	if err != nil {
		return "", "", err
	}
	now = now.UTC().Truncate(time.Second)
	if _, ok := kr.Lookup(old.KeyID()); !ok {
		if err := kr.Add(trust.Key{PublicKey: old.PublicKey()}); err != nil {
			return "", "", err
		}
	}
	if err := kr.Retire(old.KeyID(), now); err != nil {
		return "", "", err
	}
	next, err := trust.GenerateKey(alg)
	if err != nil {
		return "", "", err
	}
	if err := kr.Add(trust.Key{PublicKey: next.PublicKey(), NotBefore: now}); err != nil {
		return "", "", err
	}
	retired := filepath.Join(dir, "marketplace-"+old.KeyID()+".key.retired")
	if err := os.Rename(priv, retired); err != nil {
		return "", "", fmt.Errorf("setting the old key aside: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, MarketplacePubFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	if err := next.WriteKeyPair(priv, filepath.Join(dir, MarketplacePubFile)); err != nil {
		return "", "", err
	}
	if err := writeKeyring(filepath.Join(dir, KeyringFile), kr); err != nil {
		return "", "", err
	}
	return old.KeyID(), next.KeyID(), nil
}

// ReadTrustRoot builds the trust root of a data folder offline, as the
// server serves it.
func ReadTrustRoot(data string) (certify.TrustRoot, error) {
	dir := filepath.Join(data, KeysDir)
	kr, err := readKeyring(filepath.Join(dir, KeyringFile))
	if err != nil {
		return certify.TrustRoot{}, err
	}
	if kr.Len() == 0 {
		return certify.TrustRoot{}, fmt.Errorf("%s has no marketplace keys yet: start the server once with --data %s", dir, data)
	}
	keys, err := kr.MarshalJSON()
	if err != nil {
		return certify.TrustRoot{}, err
	}
	pub, err := trust.LoadPublicKey(filepath.Join(dir, LogPubFile))
	if err != nil {
		return certify.TrustRoot{}, fmt.Errorf("the log key: %w", err)
	}
	origin, err := logOrigin(context.Background(), tlog.DirStorage(filepath.Join(data, LogDir)))
	if err != nil {
		return certify.TrustRoot{}, err
	}
	vkey, err := tlog.VerifierKey(origin, pub)
	if err != nil {
		return certify.TrustRoot{}, err
	}
	return certify.TrustRoot{MediaType: certify.TrustRootMediaType, MarketplaceKeys: keys, LogOrigin: origin, LogKey: vkey,
		RevocationMaxAgeSeconds: int64(certify.DefaultRevocationMaxAge / time.Second), KeyIDScheme: trust.KeyIDScheme}, nil
}

// ObjectLog returns the transparency log kept as objects under log/ of a
// blob store, as the processes of a marketplace with --blobs read and
// write it (gatehouse migrate copies a data folder's log there).
func ObjectLog(objects store.Objects) tlog.Storage { return objectLog{objects} }
