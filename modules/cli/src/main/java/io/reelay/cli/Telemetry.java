package io.reelay.cli;

import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Traces out of a Reelay process: the OpenTelemetry SDK, configured by the standard {@code OTEL_*}
 * variables (service name, sampler, headers, resource attributes, ...), installed only when {@code
 * OTEL_EXPORTER_OTLP_ENDPOINT} (or {@code OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}) is set. Otherwise
 * nothing is installed and nothing exported; the parts still pass an incoming {@code traceparent}
 * on (see {@code io.reelay.protocol.KafkaTracing}).
 *
 * <p>Spans go out as OTLP over HTTP ({@code http/protobuf}, a collector's port 4318) through the
 * JDK's HTTP client; metrics and logs are not exported this way (metrics are on {@code /metrics}).
 */
final class Telemetry {

  static final String ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT";
  static final String TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
  private static final String[] PROTOCOLS = {"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"};

  private Telemetry() {}

  /** Installs the SDK as the global OpenTelemetry when the environment asks for an exporter; says so on the console. */
  static void install(String serviceName) {
    Optional<OpenTelemetrySdk> sdk = sdk(serviceName, System.getenv(), true);
    sdk.ifPresent(s -> System.out.println("traces: OTLP to " + endpoint(System.getenv()).orElse("?") + " as "
        + Optional.ofNullable(System.getenv("OTEL_SERVICE_NAME")).orElse(serviceName)));
  }

  /**
   * The SDK the environment {@code env} (the {@code OTEL_*} variables) describes, or empty when it
   * names no OTLP endpoint. {@code env} is read through the SDK's own configuration, so system
   * properties ({@code -Dotel.…}) override it as usual. {@code global}: install it as the global.
   */
  static Optional<OpenTelemetrySdk> sdk(String serviceName, Map<String, String> env, boolean global) {
    if (endpoint(env).isEmpty()) {
      return Optional.empty();
    }
    for (String name : PROTOCOLS) {
      String p = env.get(name);
      if (p != null && p.trim().toLowerCase(Locale.ROOT).startsWith("grpc")) {
        throw new IllegalArgumentException(name + "=" + p + ": Reelay exports OTLP over HTTP only; set " + name
            + "=http/protobuf and point " + ENDPOINT + " at the collector's HTTP port (4318)");
      }
    }
    Map<String, String> defaults = new HashMap<>();
    defaults.put("otel.service.name", serviceName);
    defaults.put("otel.traces.exporter", "otlp");
    defaults.put("otel.exporter.otlp.protocol", "http/protobuf");
    defaults.put("otel.metrics.exporter", "none");
    defaults.put("otel.logs.exporter", "none");
    // the environment given, as the SDK would read it from the process (OTEL_FOO_BAR -> otel.foo.bar)
    env.forEach((k, v) -> {
      if (k.startsWith("OTEL_")) {
        defaults.put(k.toLowerCase(Locale.ROOT).replace('_', '.'), v);
      }
    });
    var builder = AutoConfiguredOpenTelemetrySdk.builder().addPropertiesSupplier(() -> defaults);
    if (global) {
      builder.setResultAsGlobal(); // flushed by the SDK's shutdown hook when the process ends
    } else {
      builder.disableShutdownHook(); // the caller shuts it down
    }
    return Optional.of(builder.build().getOpenTelemetrySdk());
  }

  private static Optional<String> endpoint(Map<String, String> env) {
    for (String name : new String[] {TRACES_ENDPOINT, ENDPOINT}) {
      String v = env.get(name);
      if (v != null && !v.isBlank()) {
        return Optional.of(v.trim());
      }
    }
    return Optional.empty();
  }
}
