// Package router moves events between the places a service can live: this
// runtime's own services and endpoints, plugin links, and node links.
//
// The router is payload-agnostic: it looks at an event's kind, destination
// and route, never at its payload, which stays a Go pointer in-process and is
// marshalled only by the link that writes it.
//
// Deliver is the one entry point. Requests go by destination; replies and
// error events pop the top of their route and go there. Every failure (no
// such service, a full queue, a lost link, a refused epoch, a looping route)
// turns into an error event returned along the failed request's route, in
// the same switch as the success path. An error event that cannot be
// delivered itself is counted and logged, never re-sent, so failures cannot
// loop.
package router
