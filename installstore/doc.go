// Package installstore is installvault's model and contract: the
// [Installation] a Slack app keeps per workspace or Enterprise Grid
// organization, the Bolt-style [Store] interface an app reads tokens
// through, [FullStore] (the one contract every backend and layer implements:
// [Store], [BotDeleter], [ConditionalDeleter], [Updater], [Lister],
// [DueLister], [NonceStore], [Leaser]), and the sentinel errors, whose
// classes every layer keeps: [ErrUnavailable] (transient: retry) is never
// also a permanent class ([ErrCorrupt], crypto.ErrDecrypt, [ErrInvalid]).
//
// Credentials are [Secret] values, which redact themselves in fmt, JSON, text
// and slog output: opaque values built with [NewSecret], read with
// [Secret.Reveal] and compared with [Secret.Equal]. Layers stack over a Store: handler → refresher →
// encryption → backend, each talking to the next only through this package's
// types. A layer takes a FullStore and is one; [Passthrough] hands on what a
// layer does not change.
//
// Every lookup is scoped by a [Query] whose tenant comes from the verified
// request. A store never returns another tenant's tokens; the one sanctioned
// crossing is Bolt's: a workspace of an Enterprise Grid organization with no
// installation of its own is served by the organization's org-wide install.
//
// The conformance suite every backend passes is package
// installstore/storetest; package memory is the reference backend.
package installstore
