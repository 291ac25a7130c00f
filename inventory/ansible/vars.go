package ansible

import (
	"fmt"
	"strconv"
	"strings"
)

// setting is what one variable definition sets in latticepush terms: field "" when nothing.
type setting struct {
	field string // address, user, port, identity, become, common_args, extra_args, priority
	val   any
}

// sshArgs is what ansible_ssh_common_args or ansible_ssh_extra_args carry over.
type sshArgs struct {
	knownHosts, strict, proxyJump string
}

// classify maps one variable definition: a setting, or a note saying why it is not carried
// over, or an error for a value of the wrong type. Values never appear in notes.
func classify(d *varDef, isGroup bool) (setting, string, string) {
	if str, ok := d.val.(string); ok && (strings.Contains(str, "{{") || strings.Contains(str, "{%")) {
		return setting{}, "a Jinja2 template, which latticepush does not evaluate: set the value by hand", ""
	}
	switch d.name {
	case "ansible_host", "ansible_ssh_host":
		v, err := asString(d)
		return setting{"address", v}, "", err
	case "ansible_user", "ansible_ssh_user":
		v, err := asString(d)
		return setting{"user", v}, "", err
	case "ansible_ssh_private_key_file", "ansible_private_key_file":
		v, err := asString(d)
		return setting{"identity", v}, "", err
	case "ansible_port", "ansible_ssh_port":
		n, ok := asInt(d.val)
		if !ok || n < 1 || n > 65535 {
			return setting{}, "", fmt.Sprintf("%s must be a port number (1-65535), not %s: give the SSH port, e.g. 2222", d.name, show(d.val))
		}
		return setting{"port", n}, "", ""
	case "ansible_become":
		b, ok := asBool(d.val)
		if !ok {
			return setting{}, "", fmt.Sprintf("%s must be true or false, not %s: true runs commands with sudo", d.name, show(d.val))
		}
		return setting{"become", b}, "", ""
	case "ansible_group_priority":
		n, ok := asInt(d.val)
		if !ok {
			return setting{}, "", fmt.Sprintf("%s must be a number, not %s", d.name, show(d.val))
		}
		if !isGroup {
			return setting{}, "set on a host, where Ansible ignores it", ""
		}
		return setting{"priority", n}, "", ""
	case "ansible_ssh_common_args", "ansible_ssh_extra_args":
		str, err := asString(d)
		if err != "" {
			return setting{}, "", err
		}
		args, rest, perr := parseSSHArgs(str)
		if perr != nil {
			return setting{}, "", fmt.Sprintf("%s: %v", d.name, perr)
		}
		note := ""
		if len(rest) > 0 {
			note = "not carried over: " + strings.Join(rest, ", ") + " (latticepush takes known_hosts, strict_host_key_checking and proxy_jump from these)"
		}
		field := "common_args"
		if d.name == "ansible_ssh_extra_args" {
			field = "extra_args"
		}
		return setting{field, args}, note, ""
	case "ansible_connection":
		if s, ok := d.val.(string); ok && (s == "ssh" || s == "smart" || s == "paramiko") {
			return setting{}, "", ""
		}
		return setting{}, "not carried over: latticepush always connects over SSH", ""
	case "ansible_become_user":
		if s, ok := d.val.(string); ok && s == "root" {
			return setting{}, "", ""
		}
		return setting{}, "not carried over: with become, latticepush runs commands as root (sudo -n)", ""
	case "ansible_become_method":
		if s, ok := d.val.(string); ok && s == "sudo" {
			return setting{}, "", ""
		}
		return setting{}, "not carried over: with become, latticepush uses sudo -n", ""
	case "ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_pass", "ansible_become_password", "ansible_sudo_pass":
		return setting{}, "a password, not copied: latticepush logs in with keys or the agent and needs passwordless sudo", ""
	}
	if strings.HasPrefix(d.name, "ansible_") {
		return setting{}, "not carried over: no latticepush equivalent", ""
	}
	return setting{}, "not carried over: latticepush has no free-form variables", ""
}

func asString(d *varDef) (string, string) {
	switch v := d.val.(type) {
	case string:
		return v, ""
	case int, int64, uint64, float64:
		return fmt.Sprint(v), ""
	}
	return "", fmt.Sprintf("%s must be a string, not %s", d.name, show(d.val))
}

func asInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case uint64:
		return int(v), v < 1<<31
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	}
	return 0, false
}

func asBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case int:
		return v != 0, v == 0 || v == 1
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "on", "1", "y", "t":
			return true, true
		case "false", "no", "off", "0", "n", "f":
			return false, true
		}
	}
	return false, false
}

// show describes a wrong value for an error: its type, or a short string.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "empty"
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	case bool:
		return "a boolean"
	case int, int64, uint64:
		return "the number " + fmt.Sprint(v)
	case float64:
		return "a fractional number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}

// parseSSHArgs reads OpenSSH command-line options: -o UserKnownHostsFile=,
// StrictHostKeyChecking= (yes or accept-new), ProxyJump= and -J carry over; the rest is
// returned by option name.
func parseSSHArgs(s string) (sshArgs, []string, error) {
	toks, err := shellSplit(s)
	if err != nil {
		return sshArgs{}, nil, err
	}
	var a sshArgs
	var rest []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		var opt string
		switch {
		case t == "-o" || t == "-J":
			if i+1 >= len(toks) {
				return a, nil, fmt.Errorf("%s needs a value", t)
			}
			i++
			if t == "-J" {
				a.proxyJump = toks[i]
				continue
			}
			opt = toks[i]
		case strings.HasPrefix(t, "-o"):
			opt = t[2:]
		case strings.HasPrefix(t, "-J"):
			a.proxyJump = t[2:]
			continue
		default:
			rest = append(rest, t)
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, _ = strings.Cut(opt, " ")
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "userknownhostsfile":
			a.knownHosts = strings.Fields(v + " ")[0]
		case "stricthostkeychecking":
			switch strings.ToLower(v) {
			case "yes":
				a.strict = "yes"
			case "accept-new":
				a.strict = "accept-new"
			default:
				rest = append(rest, "-o StrictHostKeyChecking="+v+" (latticepush checks host keys: yes or accept-new)")
			}
		case "proxyjump":
			a.proxyJump = v
		default:
			rest = append(rest, "-o "+k)
		}
	}
	return a, rest, nil
}
