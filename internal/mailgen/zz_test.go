package mailgen
import ("testing")
func TestZZ(t *testing.T) {
	for _, size := range []int{1500, 2000, 2500, 3000, 3500, 4096, 200000} {
		g := New(Options{Seed: 21, Size: size})
		bad := 0
		for i := 0; i < 1000; i++ { m := g.Next(); if d := len(m.Raw) - size; d > size/10 || -d > size/10 { bad++ } }
		t.Logf("size %d: %d of 1000 outside 10%%", size, bad)
	}
}
