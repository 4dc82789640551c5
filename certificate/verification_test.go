package certificate

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRenderVerificationQRScans reads the QR code back the way a phone
// would: from pixels. It rasterises the page at 150 dpi, a modest scan, and
// decodes it with zbar.
func TestRenderVerificationQRScans(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		for _, tool := range []string{"pdftoppm", "zbarimg"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s is not installed (packages poppler-utils and zbar-tools): cannot scan the QR code", tool)
			}
		}
		longest := "https://verify.example.com/c/"
		longest += strings.Repeat("Z9", (MaxVerificationURL-len(longest))/2)
		tests := []struct {
			name string
			data Data
		}{
			{"short", with(func(d *Data) {
				d.Verification = &Verification{Code: "7Q2K9-XRT4M", URL: "https://verify.acme.example/c/7Q2K9-XRT4M"}
			})},
			{"with everything else", everything(t)},
			{"query and fragment", with(func(d *Data) {
				d.Verification = &Verification{Code: "A-1", URL: "http://example.org/v?code=A-1&lang=de#top"}
			})},
			{"longest URL", with(func(d *Data) {
				d.Verification = &Verification{Code: "ZZ", URL: longest}
			})},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b, err := RenderVersion(v, tt.data)
				require.NoError(t, err)
				path := writeTemp(t, b)
				png := strings.TrimSuffix(path, ".pdf")
				out, err := exec.Command("pdftoppm", "-png", "-r", "150", "-singlefile", path, png).CombinedOutput()
				require.NoError(t, err, "%s", out)
				out, err = exec.Command("zbarimg", "--raw", "-q", png+".png").Output()
				require.NoError(t, err, "zbarimg found no code")
				require.Equal(t, tt.data.Verification.URL, strings.TrimSuffix(string(out), "\n"))

				text := read(t, b).Text()
				require.Contains(t, text, "Verification code: "+clean(tt.data.Verification.Code))
				if len(tt.data.Verification.URL) < 60 {
					require.Contains(t, text, "Verify at "+tt.data.Verification.URL)
				}
			})
		}
	})
}

func TestRenderRefusesBadVerification(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		tests := []struct {
			name string
			v    Verification
			want string
		}{
			{"empty code", Verification{URL: "https://example.com/v/1"}, "verification code is empty"},
			{"blank code", Verification{Code: " \u200b\x00", URL: "https://example.com/v/1"}, "verification code is empty"},
			{"empty URL", Verification{Code: "A1"}, "verification URL is empty"},
			{"URL too long", Verification{Code: "A1", URL: "https://example.com/" + strings.Repeat("a", MaxVerificationURL)}, "want at most 200"},
			{"space in URL", Verification{Code: "A1", URL: "https://example.com/v 1"}, "spaces or characters that cannot be shown"},
			{"control character in URL", Verification{Code: "A1", URL: "https://example.com/v\x001"}, "spaces or characters that cannot be shown"},
			{"bidi override in URL", Verification{Code: "A1", URL: "https://example.com/\u202e1v"}, "spaces or characters that cannot be shown"},
			{"relative URL", Verification{Code: "A1", URL: "/verify/A1"}, "not an http or https address"},
			{"no host", Verification{Code: "A1", URL: "https:///verify/A1"}, "not an http or https address"},
			{"javascript", Verification{Code: "A1", URL: "javascript:alert(1)"}, "not an http or https address"},
			{"unparsable", Verification{Code: "A1", URL: "https://exa mple.com"}, "spaces or characters that cannot be shown"},
			{"bad escape", Verification{Code: "A1", URL: "https://example.com/%zz"}, "invalid URL escape"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				verify := tt.v
				b, err := RenderVersion(v, with(func(d *Data) { d.Verification = &verify }))
				require.ErrorIs(t, err, ErrInvalidData)
				require.ErrorContains(t, err, tt.want)
				require.Nil(t, b)
			})
		}
	})
}
