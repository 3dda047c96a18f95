package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Example sections of the commands, by command path
// without the leading "gatehouse ". Every runnable command has one
// (TestEveryCommandHasAnExample); they are kept in one table so they read
// as one tutorial, in the order of a plugin's life.
var examples = map[string]string{
	"": `  gatehouse serve --with-examples examples/plugins
  export GATEHOUSE_SERVER=http://127.0.0.1:8080 GATEHOUSE_TOKEN=$(cat gatehouse-data/admin.token)
  gatehouse plugin init acme/hello`,
	"serve": `  gatehouse serve                                   # SQLite and ./gatehouse-data, on 127.0.0.1:8080
  gatehouse serve --with-examples examples/plugins  # with a catalog and a review queue to look at
  gatehouse serve --addr :9090 --data /var/lib/gatehouse --public-url https://plugins.example.com
  gatehouse serve --role api --database postgres://gatehouse@db/gatehouse --drain-delay 5s  # one of several API processes`,

	"worker": `  gatehouse worker --database postgres://gatehouse@db/gatehouse --data /var/lib/gatehouse
  gatehouse worker --database "$GATEHOUSE_DATABASE" --addr 0.0.0.0:9090  # probes and metrics for the platform`,

	"migrate": `  gatehouse migrate --data gatehouse-data --to postgres://gatehouse@db/gatehouse \
    --blobs 's3://gatehouse?endpoint=https://s3.example.com&region=eu-west-1'   # run it again to resume
  gatehouse migrate --data /var/lib/gatehouse --to "$GATEHOUSE_DATABASE" --blobs s3://plugins/prod?region=us-east-1`,

	"plugin": `  gatehouse plugin init acme/hello
  gatehouse plugin status acme/hello@0.1.0`,
	"plugin init": `  gatehouse plugin init acme/hello          # in ./hello
  gatehouse plugin init acme/hello plugins/hello`,
	"plugin build": `  gatehouse plugin build hello   # writes hello/plugin.wasm`,
	"plugin pack":  `  gatehouse plugin pack hello -o hello.gpkg`,
	"plugin inspect": `  gatehouse plugin inspect hello.gpkg
  gatehouse plugin inspect hello.gpkg -o json`,
	"plugin sign": `  gatehouse keys generate -o acme.key
  gatehouse plugin sign hello.gpkg --key acme.key   # writes hello.gpkg.sig`,
	"plugin submit": `  gatehouse plugin submit hello.gpkg                # sends hello.gpkg.sig with it
  gatehouse plugin submit hello.gpkg --signature sigs/hello.sig`,
	"plugin status": `  gatehouse plugin status acme/hello@0.1.0
  gatehouse plugin status sub_3kq7m2x4v6b8n0pa --wait
  gatehouse plugin status acme/hello@0.1.0 -o json`,
	"plugin appeal": `  gatehouse plugin appeal acme/hello@0.1.0 -m "The network origin is the vendor's documented API."`,

	"token": `  gatehouse token create --subject bob --role reviewer
  gatehouse token list`,
	"token create": `  gatehouse token create --subject bob --role reviewer
  gatehouse token create --subject alice --role publisher --namespace acme --ttl 720h
  gatehouse token create --subject edge-1 --role host`,
	"token list":   `  gatehouse token list`,
	"token revoke": `  gatehouse token revoke tok_b6v4x2m7kq3a`,

	"audit": `  gatehouse audit verify`,
	"audit verify": `  gatehouse audit verify                         # through the server
  gatehouse audit verify --data gatehouse-data   # a data folder, directly`,
	"audit export": `  gatehouse audit export -o audit.jsonl
  gatehouse audit export --after 1200`,

	"vet": `  gatehouse vet hello
  gatehouse vet hello.gpkg --vulndb osv-go-all.zip
  gatehouse vet hello -o sarif > hello.sarif`,
	"vulndb":        `  gatehouse vulndb import osv-go-all.zip`,
	"vulndb import": `  gatehouse vulndb import osv-go-all.zip`,
	"run": `  gatehouse run host/acme__hello@0.1.0.gpkg --call greet --input '{"name":"Ada"}'
  gatehouse run hello.gpkg --insecure-skip-verify --call greet --input @input.json
  VAULT_TOKEN=... gatehouse run host/acme__mailer@1.0.0.gpkg --vault-addr https://vault.internal:8200 --vault-secrets vault-secrets.json --call send --input @mail.json`,

	"review": `  gatehouse review list
  gatehouse review approve acme/hello@0.1.0`,
	"review list": `  gatehouse review list
  gatehouse review list -o json`,
	"review show":  `  gatehouse review show acme/hello@0.1.0`,
	"review claim": `  gatehouse review claim acme/hello@0.1.0`,
	"review approve": `  gatehouse review approve acme/hello@0.1.0
  gatehouse review approve acme/hello@0.1.0 --grant kv:read -m "Network access is not needed."`,
	"review reject":          `  gatehouse review reject acme/hello@0.1.0 --code quality -m "greet panics on an empty name."`,
	"review request-changes": `  gatehouse review request-changes acme/hello@0.1.0 -m "Declare the origin you call."`,

	"policy": `  gatehouse policy test
  gatehouse policy apply internal/policy/default --dry-run`,
	"policy show": `  gatehouse policy show`,
	"policy test": `  gatehouse policy test                  # the embedded default
  gatehouse policy test internal/policy/default   # a folder of .rego files`,
	"policy apply": `  gatehouse policy apply internal/policy/default --dry-run   # what would change
  gatehouse policy apply internal/policy/default`,

	"keys": `  gatehouse keys show
  gatehouse keys generate -o acme.key`,
	"keys show": `  gatehouse keys show
  gatehouse keys show -o json > trust-root.json`,
	"keys generate": `  gatehouse keys generate -o acme.key   # and acme.key.pub
  gatehouse keys generate -o acme.key --algorithm ecdsa-p256-sha256`,
	"keys rotate":                  `  gatehouse keys rotate --data gatehouse-data`,
	"namespace":                    `  gatehouse namespace key add acme acme.key.pub`,
	"namespace key":                `  gatehouse namespace key add acme acme.key.pub`,
	"namespace key add":            `  gatehouse namespace key add acme acme.key.pub`,
	"namespace identity":           `  gatehouse namespace identity add acme --issuer https://accounts.google.com --subject dev@acme.example`,
	"namespace key list":           `  gatehouse namespace key list acme`,
	"namespace key remove":         `  gatehouse namespace key remove acme 3f2a9c1d5e7b8a604c2e1f9d8b7a6c5e`,
	"namespace require-signatures": `  gatehouse namespace require-signatures acme on --reason "policy since 2026"`,
	"namespace transfer":           `  gatehouse namespace transfer acme --to bob --reason "acme's plugins moved to Bob's team"`,
	"namespace key compromised":    `  gatehouse namespace key compromised acme 3f2a9c1d5e7b8a604c2e1f9d8b7a6c5e --reason "the CI secret leaked in a public log"`,
	"keys compromised":             `  gatehouse keys compromised acme 3f2a9c1d5e7b8a604c2e1f9d8b7a6c5e --reason "the CI secret leaked in a public log"`,

	"certificate":                `  gatehouse certificate suspend acme/hello@0.1.0 --reason "CVE-2026-1234 in a dependency"`,
	"certificate confirm-health": `  gatehouse certificate confirm-health acme/hello@0.1.0 --reason "reproduced the hosts' crash"`,
	"certificate suspend": `  gatehouse certificate suspend acme/hello@0.1.0 --reason "CVE-2026-1234 in a dependency"
  gatehouse certificate suspend sub_3kq7m2x4v6b8n0pa --reason "under investigation" --deadline 72h`,
	"certificate revoke": `  gatehouse certificate revoke acme/hello@0.1.0 --reason "exfiltrates tokens"`,
	"verify":             `  gatehouse verify host/acme__hello@0.1.0.gpkg`,
	"install": `  gatehouse install acme/hello@^0.1 --dir host
  gatehouse install acme/hello@0.1.0 --dir host
  gatehouse install acme/hello --update --dir host --reason "CVE-2026-1234 fixed in 0.2.0"
  gatehouse install --history acme/hello --dir host`,
	"rollback": `  gatehouse rollback acme/hello --dir host --reason "0.2.0 times out on large templates"
  gatehouse rollback acme/hello --to 0.1.0 --dir host --policy host-policy.json`,
	"sync": `  gatehouse sync --env prod --host edge-7 --dir host
  gatehouse sync --env staging --host edge-2 --dir host --status-max-age 30m --policy host-policy.json`,
	"release": `  gatehouse release promote acme/hello@0.2.0 --to staging`,
	"release promote": `  gatehouse release promote acme/hello@0.2.0 --to staging --reason "soaked in dev"
  gatehouse release promote acme/hello@0.2.0 --to prod --rollout 10%`,
	"release approve": `  gatehouse release approve acme/hello@0.2.0 --env prod --reason "reviewed the exports change"`,
	"release rollout": `  gatehouse release rollout acme/hello grow --to 50% --env prod
  gatehouse release rollout acme/hello pause --env prod --reason "looking at timeouts"
  gatehouse release rollout acme/hello abort --env prod`,
	"release rollback": `  gatehouse release rollback acme/hello --env prod --reason "0.2.0 times out on large templates"`,
	"release show":     `  gatehouse release show acme/hello`,
	"plugin kill":      `  gatehouse plugin kill acme/hello --reason "exfiltrates contact data"`,
	"log":              `  gatehouse log verify --since seen.checkpoint --update`,
	"log verify":       `  gatehouse log verify --since seen.checkpoint --update`,
	"privacy": `  gatehouse privacy report acme/hello@1.2.0
  gatehouse privacy categories`,
	"privacy report": `  gatehouse privacy report acme/hello@1.2.0                       # flows, decisions, retention, evidence
  gatehouse privacy report acme/hello@1.2.0 -o markdown > pia.md  # for a privacy impact assessment`,
	"privacy categories": `  gatehouse privacy categories            # which released plugins touch which data
  gatehouse privacy categories -o json`,
	"hostapi": `  gatehouse hostapi current > caps.json
  gatehouse hostapi publish 1.1.0 --capabilities caps.json --deprecates 1.0.0 --sunset 2027-06-30 --migration https://docs.example.com/1.1
  gatehouse hostapi matrix --plugin acme/hello`,
	"hostapi current": `  gatehouse hostapi current > caps.json   # then drop, deprecate or add functions`,
	"hostapi publish": `  gatehouse hostapi publish 1.0.0 --capabilities caps-1.0.0.json
  gatehouse hostapi publish 1.1.0 --capabilities caps-1.1.0.json --deprecates 1.0.0 --sunset 2027-06-30 --migration https://docs.example.com/1.1`,
	"hostapi list": `  gatehouse hostapi list
  gatehouse hostapi list -o json > host-api.json   # for verify and install --host-api`,
	"hostapi matrix": `  gatehouse hostapi matrix
  gatehouse hostapi matrix --host-api 1.1.0 --namespace acme -o json`,
	"hostapi calendar": `  gatehouse hostapi calendar
  curl -s "$GATEHOUSE_SERVER/api/v1/host-api/calendar.ics" > sunsets.ics`,
	"plugin check-upgrade": `  gatehouse plugin build hello && gatehouse plugin check-upgrade hello
  gatehouse plugin check-upgrade hello --to 2.0.0 -o json
  gatehouse plugin check-upgrade hello --capabilities caps-2.0.0.json   # offline, before it is published`,
	"revalidate": `  gatehouse revalidate --all
  gatehouse revalidate acme/hello@0.1.0
  gatehouse revalidate acme/hello@0.1.0 --show`,

	"incident": `  gatehouse incident open acme/hello@0.1.0 --title "Token exfiltration"
  gatehouse incident list`,
	"incident open": `  gatehouse incident open acme/hello@0.1.0 --title "Token exfiltration" --severity critical`,
	"incident add": `  gatehouse incident add inc_q3kd7ma2x4v6b8np --version acme/hello@0.1.1
  gatehouse incident add inc_q3kd7ma2x4v6b8np --rule-kind origin --rule evil.example.net --rule-description "the exfiltration host"`,
	"incident contain": `  gatehouse incident contain inc_q3kd7ma2x4v6b8np
  gatehouse incident contain inc_q3kd7ma2x4v6b8np --revoke --reason "exfiltrates tokens"`,
	"incident close":  `  gatehouse incident close inc_q3kd7ma2x4v6b8np --postmortem-file postmortem.md`,
	"incident notify": `  gatehouse incident notify inc_q3kd7ma2x4v6b8np -m "Versions 0.1.0 and 0.1.1 are revoked; update to 0.1.2."`,
	"incident list": `  gatehouse incident list --state open
  gatehouse incident list -o json`,
	"incident show": `  gatehouse incident show inc_q3kd7ma2x4v6b8np`,

	"webhook": `  gatehouse webhook add https://hooks.example.com/gatehouse --event 'certificate.*'`,
	"webhook add": `  gatehouse webhook add https://hooks.example.com/gatehouse --event 'certificate.*'
  gatehouse webhook add https://ci.example.com/hook --namespace acme --event submission.transition`,
	"webhook list": `  gatehouse webhook list`,
	"webhook deliveries": `  gatehouse webhook deliveries --state dead
  gatehouse webhook deliveries 42`,
	"webhook replay": `  gatehouse webhook replay 42
  gatehouse webhook replay --dead wh_m2x4v6b8n0pq3kd7`,
	"webhook remove": `  gatehouse webhook remove wh_m2x4v6b8n0pq3kd7`,

	"help": `  gatehouse help plugin submit`,
	"completion": `  gatehouse completion bash > /etc/bash_completion.d/gatehouse
  gatehouse completion zsh > "${fpath[1]}/_gatehouse"`,
	"completion bash":       `  source <(gatehouse completion bash)`,
	"completion zsh":        `  gatehouse completion zsh > "${fpath[1]}/_gatehouse"`,
	"completion fish":       `  gatehouse completion fish > ~/.config/fish/completions/gatehouse.fish`,
	"completion powershell": `  gatehouse completion powershell | Out-String | Invoke-Expression`,
}

// addExamples sets the Example section of c and its subcommands from the
// examples table, leaving any a command sets itself.
func addExamples(c *cobra.Command) {
	if c.Example == "" {
		c.Example = examples[commandKey(c)]
	}
	for _, sub := range c.Commands() {
		addExamples(sub)
	}
}

// commandKey is c's path without the root's name.
func commandKey(c *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), c.Root().Name()), " ")
}
