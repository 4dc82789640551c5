package app

import (
	"errors"
	"regexp"

	"go.temporal.io/api/errordetails/v1"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
)

// namespaceNotFoundText is the server's message for a namespace it does not
// know ("Namespace default is not found."). It outlives the error's details:
// a proxy may keep only the gRPC code and message, and the operator service
// under SQL visibility reports a failed lookup inside an Unavailable.
var namespaceNotFoundText = regexp.MustCompile(`Namespace (\S+) is not found`)

// MissingNamespace reports whether err says that a namespace does not exist,
// as it does on a cluster whose namespace a separate job has not registered
// yet, and names it when the error does. It knows the error in every form it
// reaches coursehook: the SDK's *serviceerror.NamespaceNotFound, a gRPC
// status with the NamespaceNotFoundFailure detail (what serviceerror.ToStatus
// gives), and the bare NotFound or Unavailable message.
func MissingNamespace(err error) (namespace string, ok bool) {
	if err == nil {
		return "", false
	}
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		return notFound.Namespace, true
	}
	st := serviceerror.ToStatus(err)
	for _, d := range st.Details() {
		if f, ok := d.(*errordetails.NamespaceNotFoundFailure); ok {
			return f.GetNamespace(), true
		}
	}
	switch st.Code() {
	case codes.NotFound, codes.Unavailable:
		if m := namespaceNotFoundText.FindStringSubmatch(st.Message()); m != nil {
			return m[1], true
		}
	}
	return "", false
}
