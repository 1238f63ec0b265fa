package dataset

import "testing"

// TestKeyHashStable pins KeyHash: it decides which split, shard and place a
// key gets, so a change would move rows between reruns of one command.
func TestKeyHashStable(t *testing.T) {
	tests := []struct {
		seed         uint64
		purpose, key string
		want         uint64
	}{
		{42, "split", "train_0", 0x5c96a37eedb9fa94},
		{42, "shard", "train_0", 0x710b6d4dd69054e9},
		{0, "holdout", "", 0xe85cf148ce453cdf},
		{1<<63 + 5, "order", "a/b.jpg", 0xc40710934d50c729},
	}
	for _, tt := range tests {
		if got := KeyHash(tt.seed, tt.purpose, tt.key); got != tt.want {
			t.Errorf("KeyHash(%d, %q, %q) = %#x, want %#x", tt.seed, tt.purpose, tt.key, got, tt.want)
		}
	}
	if KeyHash(42, "split", "k") == KeyHash(42, "shard", "k") || KeyHash(1, "split", "k") == KeyHash(2, "split", "k") {
		t.Error("purpose or seed does not change the hash")
	}
}
