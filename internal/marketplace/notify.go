package marketplace

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// WebhookKeyFile holds the key that seals webhook signing secrets in the
// database (mode 0600). Back it up with the database: without it no
// subscription can be signed for and each must be made again.
const WebhookKeyFile = "webhook.key"

// Background cadences: deliveries go out within a couple of seconds;
// incidents are checked for remediation every minute.
const (
	webhookPoll      = 2 * time.Second
	incidentInterval = time.Minute
)

// openNotify sets up webhooks, incidents and hunting rules.
func (m *Marketplace) openNotify(ctx context.Context, p *parts) error {
	key, err := webhook.LoadOrCreateKey(filepath.Join(m.cfg.Data, WebhookKeyFile))
	if err != nil {
		return err
	}
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		return err
	}
	hooks, err := webhook.New(webhook.Config{Store: m.Store, Sealer: sealer, AllowPrivate: m.cfg.WebhooksAllowPrivate, Log: m.cfg.Log})
	if err != nil {
		return fmt.Errorf("setting up webhooks: %w", err)
	}
	icfg := incident.Config{
		Store:  m.Store,
		Corpus: hunt.StoreCorpus{Store: m.Store, Load: m.Intake.LoadPackage, Manifest: m.Intake.Manifest},
		Log:    m.cfg.Log,
	}
	if m.Trust != nil { // a nil *certify.Service must not become a non-nil interface
		icfg.Certifier = m.Trust
	}
	incs, err := incident.New(icfg)
	if err != nil {
		return fmt.Errorf("setting up incidents: %w", err)
	}
	m.Webhooks, m.Incidents = hooks, incs
	p.app.Webhooks, p.app.Incidents = hooks, incs
	return nil
}

// runNotify delivers webhooks and watches open incidents until ctx ends.
func (m *Marketplace) runNotify(ctx context.Context) {
	if m.Webhooks == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Webhooks.Run(ctx, webhookPoll)
	}()
	t := time.NewTicker(incidentInterval)
	defer t.Stop()
	for {
		if err := m.Incidents.RefreshOpen(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Log.Error("checking open incidents", "err", err)
		}
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
		}
	}
}
