// Command notifier is the acme/notifier Gatehouse plugin: it posts a
// message as a JSON webhook to Acme's hook service.
//
// It needs exactly one network origin, net:https://hooks.example.com; the
// host refuses any fetch elsewhere, including a redirect that leaves it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

// endpoint is the webhook URL; its origin is the plugin's one network
// permission.
const endpoint = "https://hooks.example.com/v1/messages"

// Limits on a message, as chat services impose them.
const (
	maxTextLen    = 4000
	maxChannelLen = 80
)

// levels are the message levels the hook service knows.
var levels = map[string]bool{"info": true, "warning": true, "error": true}

// NotifyInput is the JSON input of the notify export.
type NotifyInput struct {
	Channel string `json:"channel"`
	Text    string `json:"text"`
	// Level is info (the default), warning or error.
	Level string `json:"level,omitempty"`
}

// NotifyOutput is the JSON output of the notify export.
type NotifyOutput struct {
	Delivered bool `json:"delivered"`
	// Status is the hook service's HTTP status.
	Status int `json:"status"`
	// ID is the message id the hook service returned, if any.
	ID string `json:"id,omitempty"`
}

// message is the webhook's JSON body.
type message struct {
	Channel string `json:"channel"`
	Text    string `json:"text"`
	Level   string `json:"level"`
}

//go:wasmexport notify
func notify() int32 {
	return pdk.Handle(func(in NotifyInput) (NotifyOutput, error) {
		return send(pdk.Fetch, in)
	})
}

// send does the work; fetch is how the request goes out (pdk.Fetch in the
// plugin).
func send(fetch func(hostapi.FetchRequest) (hostapi.FetchResponse, error), in NotifyInput) (NotifyOutput, error) {
	msg := message{Channel: strings.TrimPrefix(strings.TrimSpace(in.Channel), "#"), Text: in.Text, Level: in.Level}
	if msg.Level == "" {
		msg.Level = "info"
	}
	switch {
	case msg.Channel == "":
		return NotifyOutput{}, errors.New("channel is empty: name the channel to post to, like {\"channel\": \"ops\"}")
	case utf8.RuneCountInString(msg.Channel) > maxChannelLen:
		return NotifyOutput{}, fmt.Errorf("channel is longer than %d characters", maxChannelLen)
	case strings.TrimSpace(msg.Text) == "":
		return NotifyOutput{}, errors.New("text is empty: there is nothing to send")
	case utf8.RuneCountInString(msg.Text) > maxTextLen:
		return NotifyOutput{}, fmt.Errorf("text is %d characters long, the limit is %d", utf8.RuneCountInString(msg.Text), maxTextLen)
	case !levels[msg.Level]:
		return NotifyOutput{}, fmt.Errorf("level %q is not one of info, warning, error", msg.Level)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return NotifyOutput{}, fmt.Errorf("encoding the webhook: %w", err)
	}
	resp, err := fetch(hostapi.FetchRequest{
		Method:  "POST",
		URL:     endpoint,
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    body,
	})
	if err != nil {
		return NotifyOutput{}, fmt.Errorf("posting the webhook: %w", err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		return NotifyOutput{}, fmt.Errorf("the hook service answered %d: %s", resp.Status, snippet(resp.Body))
	}
	out := NotifyOutput{Delivered: true, Status: resp.Status}
	// The service answers {"id": "..."}; a body it did not send is fine.
	var ack struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(resp.Body, &ack) == nil {
		out.ID = ack.ID
	}
	return out, nil
}

// snippet returns the start of a response body for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > max {
		s = s[:max] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// main is never called: the plugin is a WASI reactor whose exports the host
// calls directly.
func main() {}
