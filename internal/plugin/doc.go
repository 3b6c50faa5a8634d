// Package plugin is the node's side of out-of-process plugins: it scans the
// plugins folder, learns and caches each binary's manifest, registers the
// plugins' services in the router, launches a plugin on the first event for
// one of them, carries events over one link per plugin process, supervises
// the process and follows changes to the folder.
//
// # Wiring
//
//	h, err := plugin.New(plugin.Config{Router: n.Router(), Logger: log, Conf: store,
//		Local: n.Has, Dir: prefix + "/plugins", CacheFile: prefix + "/cache/plugins.json",
//		StartTimeout: ..., IdleTimeout: ..., Watch: true})
//	h.Start(ctx)                          // scan; launches only binaries the cache does not know
//	n.StartWith(ctx, h.Known, startOne)   // Start= in order; it may name plugin services
//	                                      // startOne: at a plugin's first service (h.Owner),
//	                                      // h.StartServices(ctx, its services of Start=)
//	...
//	h.Close(ctx)                          // stop every plugin process
//
// # Scan and manifest
//
// Every executable regular file of the folder is a plugin; its base name is
// the plugin's name. A folder or binary writable by group or others is
// refused. A binary's manifest (its services and their event types) is
// learned by launching it once and calling the Manifest RPC, and cached in
// CacheFile keyed by path, size, mtime and SHA-256, with the reason when the
// binary is not a usable plugin, so that a boot with nothing changed
// launches no plugin. A service name claimed twice stays with the first
// claimant (in folder order), and the error names both files. When the
// first claimant's binary is removed, or replaced by one that no longer
// declares the name, the next claimant (by path) takes it over.
//
// # Launch and the link
//
// A plugin's services are router links (router.SetService). The first event
// for one of them launches the process with go-plugin (gRPC protocol, the
// handshake of pluginrt.Handshake, sockets in a private 0700 directory),
// opens one Link stream, sends Hello (config values, Start= services) and
// waits for Ready, within StartTimeout. Events that arrived meanwhile are
// then sent in order. Events travel in batches within credit both ways (see
// pluginrt.Conn). A request from a plugin gets an ENDPOINT hop naming the
// process (<plugin>@<generation>), so its reply returns to that process
// even after the binary was replaced.
//
// go-plugin and gRPC carry the launch, the handshake, the manifest and
// Hello; the events do not ride the gRPC stream when the plugin can avoid
// it. Hello offers an event socket: a Unix socket of its own in the same
// private directory, and a token of 32 random bytes made for this launch.
// A plugin of this SDK connects, writes the token, and from then on the
// link's frames (Ready, Defines, batches) travel there, each as a 4-byte
// length and the bytes link.Codec produces (link.SocketStream); the
// same Conn runs over it. A connection that does not start with the token
// is closed and logged, and the host keeps waiting for the plugin's; the
// socket file is removed as soon as the plugin is connected (or the launch
// ends). The reason is cost: on a 2-core machine a round trip over gRPC's
// stream took about six times one over a plain Unix socket, spent in
// gRPC's transport reader and loopy writer goroutines and HTTP/2 framing.
//
// A plugin built before the event socket ignores the offer and answers
// Hello on the Link stream: the host runs its link there, as before. The
// host takes whichever transport the plugin answers Hello on; the log line
// "plugin started" names it (link=socket or link=grpc).
//
// Bytes on the link that are not a frame (a length past
// pluginrt.MaxMessageSize, a frame that does not decode, a frame cut short)
// end the link (pluginrt.ErrBadFrame on the socket, an Internal status on
// the gRPC stream): the host kills the process and handles it as a crash,
// the errors saying the link broke.
//
// # Supervision
//
// The host remembers each request in flight to a process (by request id and
// top of route), at most MaxInFlight (a request past it fails at once with
// ErrQueueFull). When the process dies, each gets an ErrPluginCrashed error
// event naming the exit status or signal and the last lines of the
// plugin's stderr. Events the link had accepted but not yet written (any
// kind, see pluginrt.Conn.Abandoned) are failed the same way; those with
// no route to answer are counted and logged by the router. An event sent
// between the crash and the supervisor noticing it is refused by the dead
// link (ErrLinkLost, an error event to its sender), not queued for the
// relaunch. Host.Lost counts the events lost with a process. The next event relaunches it after a backoff doubling
// with each recent crash; CrashLimit crashes within CrashWindow mark the
// plugin failed: its events fail at once until the binary changes or Reset
// is called (operators: sdk.Admin.ResetPlugin, the console's
// plugins/reset). With IdleTimeout, a process without events is stopped. The
// plugin's log lines (hclog JSON on its stderr) are re-logged with
// plugin=<name>.
//
// On Linux the process gets SIGKILL when the node's process dies
// (Pdeathsig), the plugin exits when its parent changes, and it ends its
// runtime when its link's socket or stream reaches its end, so no plugin
// outlives its node, even one killed with SIGKILL.
//
// # Hot reload
//
// With Config.Watch the folder is followed with fsnotify. A new binary is
// scanned and its services registered. A replaced binary's process finishes
// its in-flight events (events arriving meanwhile wait in order), for up to
// Config.DrainTimeout, then the next event launches the new binary; its
// services stay routed throughout. A removed binary's services answer with
// ErrNoService. The folder's permissions are checked at each reload as at
// boot: while others may write to it, its plugins are forgotten. Install
// binaries atomically (write elsewhere in the same file system, then
// rename into the folder). The folder's parent is followed too, so a
// folder replaced as a whole (renamed over, removed and made again, a
// symlink swapped) is followed in its place and scanned whole; while no
// folder is at the path, its plugins are removed.
//
// # Operators
//
// Status lists every plugin's state and event counts; the host also writes
// it into the cache file, where ReadStatus (the "mtnode plugins" verb)
// finds it, with or without a running node. Problems lists the latest
// problem about each file, bounded.
//
// # Lock order
//
// h.mu before p.mu (StartServices). spawnMu is a leaf: spawn may be called
// with any lock held. saveMu is taken before h.mu and p.mu, never inside.
package plugin
