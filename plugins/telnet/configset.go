package telnet

import (
	"fmt"
	"strings"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/sdk"
)

// configSet runs config/set: it refuses values that would do harm, writes
// the file through Admin, and says truthfully when the value takes effect.
// Services read their config when they start, so a new value reaches a
// running service only when it next starts.
func (s *Service) configSet(call *console.Call) string {
	key, _ := call.Arg("key")
	value, _ := call.Arg("value")
	value = strings.TrimSpace(value)
	switch {
	case strings.ContainsAny(key+value, "\r\n\x00"):
		return "% refusing a key or value with a line break or NUL byte: a config value is one line; nothing written"
	case key == Name+".password" && value == "":
		return "% refusing to empty Telnet.password: a console on a non-loopback address would then refuse to start, locking remote access; nothing written"
	case key == Name+".password":
		return "% write the new password into the config file by hand; the service hashes it on its next start"
	}
	var override string
	for _, e := range s.admin.ConfigEntries() {
		if e.Key == key && (e.Source == "env" || e.Source == "flag") {
			override = e.Source
		}
	}
	if err := s.admin.SetConfig(key, value); err != nil {
		return "% " + err.Error()
	}
	msg := fmt.Sprintf("%s=%s written to the config file; %s", key, value, whenApplied(key, s.admin.Services()))
	switch override {
	case "env":
		msg += fmt.Sprintf("\nnote: the environment variable MT_%s overrides this key, so the file's value is not used while it is set", strings.Replace(key, ".", "_", 1))
	case "flag":
		msg += "\nnote: a --set flag overrides this key, so the file's value is not used while the node runs with it"
	}
	return msg
}

// whenApplied says who reads key and when the new value takes effect.
func whenApplied(key string, services []sdk.ServiceInfo) string {
	service, _, ok := strings.Cut(key, ".")
	if !ok || service == "Node" {
		return "the node reads it when it starts: it takes effect when the node restarts"
	}
	for _, si := range services {
		if si.Name != service {
			continue
		}
		switch si.State {
		case "idle", "stopped", "failed":
			return fmt.Sprintf("%s reads its config when it starts (it is %s now): it takes effect when %s next starts", service, si.State, service)
		}
		return fmt.Sprintf("%s read its config when it started (it is %s now): it takes effect when %s next starts, so restart the node to apply it",
			service, si.State, service)
	}
	return fmt.Sprintf("no service %s is on this node now: the value takes effect when a service of that name starts", service)
}
