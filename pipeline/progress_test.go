package pipeline

import "testing"

func TestWorkersInProcess(t *testing.T) {
	tests := []struct {
		flags map[string]string
		cfg   Config
		want  bool
	}{
		{map[string]string{"runner": ""}, Config{}, true},
		{map[string]string{"runner": "Prism"}, Config{}, true},
		{map[string]string{"runner": "dataflow"}, Config{}, false},
		{map[string]string{"runner": "dataflow"}, Config{Runner: "direct"}, true},
		{map[string]string{"runner": "universal", "environment_type": "LOOPBACK"}, Config{}, true},
		{map[string]string{"runner": "flink", "environment_type": "DOCKER"}, Config{}, false},
	}
	for _, tt := range tests {
		setFlags(t, tt.flags)
		if got := WorkersInProcess(tt.cfg); got != tt.want {
			t.Errorf("flags %v, Runner %q: got %v, want %v", tt.flags, tt.cfg.Runner, got, tt.want)
		}
	}
}
