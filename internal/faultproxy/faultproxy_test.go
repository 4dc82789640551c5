package faultproxy

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCutAndRestore(t *testing.T) {
	p := Start(t, EchoServer(t))

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	got, err := RoundTrip(c, "hello")
	require.NoError(t, err)
	require.Equal(t, "hello\n", got)

	p.Cut()
	_, err = RoundTrip(c, "lost")
	require.Error(t, err, "an open connection is dropped")
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	_, err = RoundTrip(c2, "refused")
	require.Error(t, err, "a new connection is closed at once")
	c2.Close()

	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c3.Close()
	got, err = RoundTrip(c3, "back")
	require.NoError(t, err)
	require.Equal(t, "back\n", got)
}
