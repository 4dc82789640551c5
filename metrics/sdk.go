package metrics

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// SDK returns a handler for the Temporal SDK's own metrics (task latencies,
// poller counts, activity and workflow outcomes, the slot counts) that
// exports them through reg, beside the worker's, via OpenTelemetry.
func SDK(reg prometheus.Registerer, log *slog.Logger) (client.MetricsHandler, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("temporal sdk metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(describe))
	return opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk-go"),
		// The handler's default is to panic; a metric that cannot be
		// recorded must never stop a worker.
		OnError: func(err error) { log.Warn("temporal sdk metric", "error", err) },
	}), nil
}

// describe gives the SDK's instruments, which come without a description,
// the help text Prometheus expects of every metric (promtool checks it).
func describe(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	if i.Description != "" {
		return sdkmetric.Stream{}, false
	}
	return sdkmetric.Stream{
		Name:        i.Name,
		Description: "Temporal SDK metric " + i.Name + "; see https://docs.temporal.io/references/sdk-metrics",
		Unit:        i.Unit,
	}, true
}
