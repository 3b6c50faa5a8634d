package sdk

// Log attribute keys. Every part of mtnode logs with these keys, so one
// filter (for example req=42) shows an event's whole path.
const (
	KeyService  = "service"
	KeyEvent    = "event"
	KeyDst      = "dst"
	KeyHop      = "hop"
	KeyRouteLen = "route_len"
	KeyLink     = "link"
	KeyPeer     = "peer"
	KeyNode     = "node"
	KeyEpoch    = "epoch"
	// A peer node's name and epoch, beside the node= of the node logging.
	KeyPeerNode  = "peer_node"
	KeyPeerEpoch = "peer_epoch"
	KeyReq       = "req"
	KeyErr       = "err"
	KeyPlugin    = "plugin"
)
