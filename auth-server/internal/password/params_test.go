package password

import (
	"errors"
	"testing"
)

func TestParseParams(t *testing.T) {
	def := DefaultParams()
	with := func(m, tt uint32, p uint8) Params {
		return Params{Memory: m, Time: tt, Threads: p, KeyLen: 32, SaltLen: 16}
	}
	tests := []struct {
		in      string
		want    Params
		wantErr bool
	}{
		{in: "m=19456,t=2,p=1", want: def},
		{in: "p=1,m=19456,t=2", want: def},
		{in: "t=2,p=1,m=19456", want: def},
		{in: " m=65536 , t=3 , p=4 ", want: with(65536, 3, 4)},
		{in: "m=65536", want: with(65536, 2, 1)},
		{in: "t=1", want: with(19456, 1, 1)},
		{in: "m=16,t=1,p=2", want: with(16, 1, 2)},
		{in: "m=4194304,t=1,p=1", want: with(4194304, 1, 1)},
		{in: "m=8,t=1,p=1", want: with(8, 1, 1)},
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "m=19456,t=2,p=1,x=3", wantErr: true},
		{in: "M=19456", wantErr: true},
		{in: "m=0,t=2,p=1", wantErr: true},
		{in: "m=19456,t=0,p=1", wantErr: true},
		{in: "m=19456,t=2,p=0", wantErr: true},
		{in: "m=7,t=1,p=1", wantErr: true},
		{in: "m=15,t=1,p=2", wantErr: true},
		{in: "m=4194305,t=1,p=1", wantErr: true},
		{in: "m=99999999999", wantErr: true},
		{in: "t=4294967296", wantErr: true},
		{in: "p=256", wantErr: true},
		{in: "m=19456,m=19456", wantErr: true},
		{in: "m", wantErr: true},
		{in: "m=", wantErr: true},
		{in: "=5", wantErr: true},
		{in: "m=abc", wantErr: true},
		{in: "m=-1", wantErr: true},
		{in: "m=+64", wantErr: true},
		{in: "m=1e3", wantErr: true},
		{in: "m=0x40", wantErr: true},
		{in: "m=19456;t=2", wantErr: true},
		{in: "m=19456,,t=2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseParams(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidParams) {
					t.Fatalf("ParseParams(%q) = %+v, %v; want error wrapping ErrInvalidParams", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseParams(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseParams(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParamsStringRoundTrip(t *testing.T) {
	p := Params{Memory: 65536, Time: 3, Threads: 4, KeyLen: 32, SaltLen: 16}
	got, err := ParseParams(p.String())
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("ParseParams(%q) = %+v, want %+v", p.String(), got, p)
	}
	if got, want := DefaultParams().String(), "m=19456,t=2,p=1"; got != want {
		t.Errorf("DefaultParams().String() = %q, want %q", got, want)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Params)
		wantErr bool
	}{
		{name: "default", mod: func(*Params) {}},
		{name: "short key", mod: func(p *Params) { p.KeyLen = 8 }, wantErr: true},
		{name: "long key", mod: func(p *Params) { p.KeyLen = 2048 }, wantErr: true},
		{name: "short salt", mod: func(p *Params) { p.SaltLen = 4 }, wantErr: true},
		{name: "zero memory", mod: func(p *Params) { p.Memory = 0 }, wantErr: true},
		{name: "memory below 8p", mod: func(p *Params) { p.Threads = 4; p.Memory = 31 }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.mod(&p)
			err := p.Validate()
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("Validate(%+v) = %v, want error: %v", p, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidParams) {
				t.Errorf("error %v does not wrap ErrInvalidParams", err)
			}
		})
	}
}

func TestNewHasherNormalizesParams(t *testing.T) {
	tests := []struct {
		name string
		in   Params
		want Params
	}{
		{name: "zero is default", in: Params{}, want: DefaultParams()},
		{name: "memory raised to 8p", in: Params{Memory: 1, Time: 1, Threads: 4},
			want: Params{Memory: 32, Time: 1, Threads: 4, KeyLen: 32, SaltLen: 16}},
		{name: "lengths clamped", in: Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 4, SaltLen: 4096},
			want: Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 1024}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewHasher(tt.in, 1).Params(); got != tt.want {
				t.Errorf("NewHasher(%+v).Params() = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
