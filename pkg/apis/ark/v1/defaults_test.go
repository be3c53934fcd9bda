package v1

import (
	"encoding/json"
	"testing"
)

// A Heptio Ark manifest's deprecated hooks alias becomes pre hooks, so the
// hooks run; pre set alone, or with the alias, is left for validation.
func TestDeprecatedHooksAliasBecomesPre(t *testing.T) {
	// The shape of a Heptio Ark v0.5 manifest's hook spec.
	const manifest = `{"spec":{"hooks":{"resources":[{"name":"freeze","hooks":[{"exec":{"command":["/sbin/fsfreeze","--freeze","/var/lib/db"]}}]}]}}}`
	var b Backup
	if err := json.Unmarshal([]byte(manifest), &b); err != nil {
		t.Fatal(err)
	}
	SetObjectDefaults_Backup(&b)
	h := b.Spec.Hooks.Resources[0]
	if len(h.Hooks) != 0 || len(h.PreHooks) != 1 || h.PreHooks[0].Exec.Command[0] != "/sbin/fsfreeze" {
		t.Fatalf("hooks %+v, pre %+v: want the alias moved to pre", h.Hooks, h.PreHooks)
	}
	if h.PreHooks[0].Exec.OnError != HookErrorModeFail || h.PreHooks[0].Exec.Timeout.Duration != DefaultHookTimeout {
		t.Errorf("the moved hook was not defaulted: %+v", h.PreHooks[0].Exec)
	}

	// Applying the same manifest again: its alias lands next to the stored
	// pre (defaulted there); equal, the alias is dropped.
	again := BackupResourceHookSpec{
		Hooks:    []BackupResourceHook{{Exec: &ExecHook{Command: []string{"/sbin/fsfreeze"}}}},
		PreHooks: []BackupResourceHook{{Exec: &ExecHook{Command: []string{"/sbin/fsfreeze"}, OnError: HookErrorModeFail, Timeout: h.PreHooks[0].Exec.Timeout}}},
	}
	SetDefaults_BackupResourceHookSpec(&again)
	if len(again.Hooks) != 0 || len(again.PreHooks) != 1 {
		t.Errorf("re-applied: hooks %+v, pre %+v; want the equal alias dropped", again.Hooks, again.PreHooks)
	}

	both := BackupResourceHookSpec{Hooks: []BackupResourceHook{{Exec: &ExecHook{Command: []string{"a"}}}}, PreHooks: []BackupResourceHook{{Exec: &ExecHook{Command: []string{"b"}}}}}
	SetDefaults_BackupResourceHookSpec(&both)
	if len(both.Hooks) != 1 || len(both.PreHooks) != 1 || both.PreHooks[0].Exec.Command[0] != "b" {
		t.Errorf("with both set: hooks %+v, pre %+v; want both kept for validation to refuse", both.Hooks, both.PreHooks)
	}
}
