package fakeslack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

var (
	// ErrNotInstalled: the app is not installed in the workspace.
	ErrNotInstalled = errors.New("fakeslack: app not installed in this workspace")
	// ErrNoEvents: the fake has no Config.EventsURL or no
	// Config.SigningSecret to deliver events with.
	ErrNoEvents = errors.New("fakeslack: no EventsURL and SigningSecret to deliver events")
)

// Sign returns Slack's request signature of body sent at ts:
// "v0=" + hex(HMAC-SHA256(signingSecret, "v0:" + ts + ":" + body)).
func Sign(signingSecret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(signingSecret))
	fmt.Fprintf(mac, "v0:%d:", ts.Unix())
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Mention makes the workspace's installing user post text mentioning the
// app's bot in DemoChannel, and delivers the app_mention event to the app.
func (s *Server) Mention(ctx context.Context, teamID, text string) error {
	ws, ok := s.workspace(teamID)
	if !ok || !s.Installed(teamID) {
		return fmt.Errorf("mention in %s: %w", teamID, ErrNotInstalled)
	}
	s.mu.Lock()
	m := Message{TeamID: teamID, Channel: DemoChannel, User: ws.UserID,
		Text: fmt.Sprintf("<@%s> %s", ws.BotUserID, text), TS: s.nextTS()}
	t := s.team(teamID)
	t.messages = append(t.messages, m)
	s.mu.Unlock()
	return s.deliver(ctx, ws, map[string]any{
		"type": "app_mention", "user": m.User, "text": m.Text, "ts": m.TS, "channel": m.Channel, "event_ts": m.TS,
	})
}

// Uninstall removes the app from the workspace as Slack does: every token
// of the app there is revoked, then app_uninstalled is delivered to the app.
func (s *Server) Uninstall(ctx context.Context, teamID string) error {
	ws, ok := s.workspace(teamID)
	if !ok || !s.Installed(teamID) {
		return fmt.Errorf("uninstall from %s: %w", teamID, ErrNotInstalled)
	}
	s.mu.Lock()
	s.revokeTeam(teamID)
	s.mu.Unlock()
	return s.deliver(ctx, ws, map[string]any{"type": "app_uninstalled"})
}

// deliver sends event to the app's Events API endpoint in an event_callback
// envelope, signed like Slack signs. Slack stamps event_time in whole
// seconds; an app rightly ignores a purge event not newer than the install
// it would delete, so the event is stamped (and sent) after the second in
// which tokens were last issued for the workspace.
func (s *Server) deliver(ctx context.Context, ws Workspace, event map[string]any) error {
	if s.cfg.EventsURL == "" || s.cfg.SigningSecret.IsZero() {
		return fmt.Errorf("fakeslack: deliver %s to %s: %w", event["type"], ws.ID, ErrNoEvents)
	}
	s.mu.Lock()
	last := s.team(ws.ID).lastIssue
	s.seq++
	id := fmt.Sprintf("Ev0DEMO%06d", s.seq)
	s.mu.Unlock()
	now := s.cfg.Now()
	// At most a second; a longer wait means a clock moved, not a race.
	if wait := time.Unix(last.Unix()+1, 0).Sub(now); !last.IsZero() && wait > 0 && wait <= time.Second {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("fakeslack: deliver %s to %s: %w", event["type"], ws.ID, ctx.Err())
		}
		now = s.cfg.Now()
	}
	body, err := json.Marshal(map[string]any{
		"token":      "deprecated-verification-token",
		"team_id":    ws.ID,
		"api_app_id": s.cfg.AppID,
		"event":      event,
		"type":       "event_callback",
		"event_id":   id,
		"event_time": now.Unix(),
		"authorizations": []map[string]any{{
			"enterprise_id": nil, "team_id": ws.ID, "user_id": ws.BotUserID, "is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
	})
	if err != nil {
		return fmt.Errorf("fakeslack: encode %s event: %w", event["type"], err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.EventsURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("fakeslack: deliver %s to %s: %w", event["type"], ws.ID, err)
	}
	sent := s.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(sent.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Sign(s.cfg.SigningSecret.Reveal(), sent, body))
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fakeslack: deliver %s to %s: %w", event["type"], ws.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fakeslack: deliver %s to %s: the app answered %s", event["type"], ws.ID, resp.Status)
	}
	s.mu.Lock()
	s.stats.Events++
	s.mu.Unlock()
	s.cfg.Logger.Info("fakeslack: event delivered", "team_id", ws.ID, "type", event["type"])
	return nil
}

// RevokeTokens revokes every token of the app in teamID (access and
// refresh) but leaves the app installed, so that events are still
// delivered: what an app sees when an admin revokes its tokens and the
// tokens_revoked event has not reached it yet.
func (s *Server) RevokeTokens(teamID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	installed := s.team(teamID).installed
	s.revokeTeam(teamID)
	s.team(teamID).installed = installed
}
