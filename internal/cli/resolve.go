package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
)

// versionArg is how help names an argument that is one version of a
// plugin: every command that takes one accepts both forms.
const versionArg = "a submission id (as `gatehouse plugin submit` printed it) or NAMESPACE/NAME@VERSION, such as acme/hello@0.1.0"

// splitVersionRef splits NAMESPACE/NAME@VERSION; ok is false for anything
// else, such as a submission id.
func splitVersionRef(ref string) (plugin, version string, ok bool) {
	plugin, version, ok = strings.Cut(ref, "@")
	if !ok || version == "" {
		return "", "", false
	}
	ns, name, ok := strings.Cut(plugin, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return plugin, version, true
}

// versionCmd is a command on one version, named in either form: it
// resolves the argument to a submission id and calls run with a client,
// the id and the argument as the user wrote it (for messages). short
// becomes the help's first sentence.
func versionCmd(g *globals, use, short string, run func(cmd *cobra.Command, cl *client.Client, id, ref string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  short + ". VERSION is " + versionArg + ".",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			id, err := submissionID(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return run(cmd, cl, id, args[0])
		},
	}
}

// submissionID resolves a command's version argument, a submission id or
// NAMESPACE/NAME@VERSION, to the submission id the API's paths take. An id
// is passed on as it is; the server answers for it.
func submissionID(ctx context.Context, cl *client.Client, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("name a version: %s", versionArg)
	}
	plugin, version, ok := splitVersionRef(ref)
	if !ok {
		if strings.Contains(ref, "@") {
			return "", fmt.Errorf("%q is neither a submission id nor NAMESPACE/NAME@VERSION; name a version as %s", ref, versionArg)
		}
		return ref, nil
	}
	ns, name, _ := strings.Cut(plugin, "/")
	var sub api.Submission
	path := "/plugins/" + url.PathEscape(ns) + "/" + url.PathEscape(name) + "/versions/" + url.PathEscape(version)
	if err := cl.JSON(ctx, "GET", path, nil, &sub); err != nil {
		return "", notFound(err, ref, "")
	}
	return sub.ID, nil
}

// notFound rewrites the server's 404 for a version argument into an error
// that names both forms the argument takes; where narrows the search
// (" in the review queue"). Other errors pass through.
func notFound(err error, ref, where string) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound && ce.Code == "not_found" {
		return fmt.Errorf("no version %s%s: name a version as %s", ref, where, versionArg)
	}
	return err
}
