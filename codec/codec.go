// Package codec encrypts Temporal payloads with AES-256-GCM, so that
// Temporal's database holds only ciphertext of the learner names and emails
// that travel in workflow inputs and results. The worker and the webhook
// server use DataConverter; Handler is the codec server through which the
// Temporal UI and CLI show the decrypted payloads to operators.
package codec

import (
	"fmt"

	"go.temporal.io/sdk/temporal"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The names follow Temporal's encryption
// sample, so tools written against it recognise these payloads.
const (
	// MetadataEncodingEncrypted is the "encoding" of an encrypted payload.
	MetadataEncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key that encrypted the payload.
	MetadataKeyID = "encryption-key-id"
)

// payloadCodec encrypts whole payloads, metadata included: the original
// encoding (json/plain, binary/null...) may itself say something, and
// keeping it inside lets Decode restore the payload exactly.
type payloadCodec struct {
	keys Keys
}

// NewCodec returns a PayloadCodec that encrypts with the active key and
// decrypts with any key of k.
func NewCodec(k Keys) converter.PayloadCodec {
	return payloadCodec{keys: k}
}

// DataConverter wraps the SDK's default converter with the codec. Give the
// same converter to every client and worker of the deployment.
func DataConverter(k Keys) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), NewCodec(k))
}

// FailureConverter encrypts the message and stack trace of every failure,
// not only its payloads. Provider errors (SendGrid's errors[] text, for one)
// can quote what the learner sent, and failures land in history like
// payloads do. The UI and CLI read them through the codec endpoint too.
func FailureConverter(k Keys) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(k),
		EncodeCommonAttributes: true,
	})
}

// Encode implements converter.PayloadCodec.
func (c payloadCodec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead, ok := c.keys.aeads[c.keys.active]
	if !ok {
		return payloads, fmt.Errorf("encrypt payload: no active key (%s)", KeyIDVar)
	}
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if p == nil {
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("encrypt payload %d: %w", i, err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncodingEncrypted),
				MetadataKeyID:              []byte(c.keys.active),
			},
			// The AEAD draws the nonce and puts it before the ciphertext.
			Data: aead.Seal(nil, nil, plain, nil),
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec. Payloads that are not
// encrypted pass through, so histories written before encryption was
// switched on still read.
//
// Errors are WorkflowTaskFailureErrors: a missing key is fixed by
// configuration, so the workflow task should fail and be retried rather
// than the workflow see a decoding error as an activity's outcome. Outside
// a workflow task they are ordinary errors.
func (c payloadCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncodingEncrypted {
			out[i] = p
			continue
		}
		d, err := c.decrypt(p)
		if err != nil {
			return payloads, converter.NewWorkflowTaskFailureError(fmt.Errorf("decrypt payload %d: %w", i, err))
		}
		out[i] = d
	}
	return out, nil
}

func (c payloadCodec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	rawID, ok := p.GetMetadata()[MetadataKeyID]
	if !ok {
		return nil, fmt.Errorf("no %s in its metadata", MetadataKeyID)
	}
	id := string(rawID)
	aead, ok := c.keys.aeads[id]
	if !ok {
		return nil, fmt.Errorf("key %q is not in %s", id, KeysVar)
	}
	plain, err := aead.Open(nil, nil, p.GetData(), nil)
	if err != nil {
		// GCM does not say why; the likely causes are worth naming.
		return nil, fmt.Errorf("key %q: authentication failed (the data was altered, or %s holds a different key under that id)", id, KeysVar)
	}
	var d commonpb.Payload
	if err := proto.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("key %q: decrypted data is not a payload: %w", id, err)
	}
	return &d, nil
}
