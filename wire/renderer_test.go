package wire

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/config"
)

// TestTheRendererVersionsAgree: config accepts the renderer versions the
// certificate package has, and no more.
func TestTheRendererVersionsAgree(t *testing.T) {
	require.Equal(t, certificate.CurrentRenderer, config.CertificateRenderers)
	for v := 1; v <= config.CertificateRenderers; v++ {
		_, err := certificate.RenderVersion(v, certificate.Data{LearnerName: "Ada", CourseTitle: "Safety", CertificateID: "e1", CompletedAt: time.Now()})
		require.NoError(t, err, "version %d", v)
	}
}
