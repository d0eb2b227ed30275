package io.reelay.protocol;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * A request's trace across the Kafka hops: the W3C trace context ({@code traceparent}, {@code
 * tracestate}) in record headers, and the spans every part makes around a record.
 *
 * <p>A producer of requests may set {@code traceparent} on its record; the status service sets it
 * on what {@code POST /v1/requests} publishes. The worker continues that trace (a CONSUMER span per
 * request, CLIENT spans for the backend calls, a PRODUCER span per event) and puts it on every
 * event and completion record, where the webhook dispatcher picks it up.
 *
 * <p>Only the OpenTelemetry API is used here. Without an SDK installed (the default: {@code reelay}
 * installs one only when {@code OTEL_EXPORTER_OTLP_ENDPOINT} is set) no span is recorded, yet an
 * incoming {@code traceparent} still travels on unchanged, so a trace begun upstream stays whole.
 */
public final class KafkaTracing {

  /** The instrumentation scope of every Reelay span. */
  public static final String SCOPE = "io.reelay";

  public static final String TRACEPARENT = "traceparent";
  public static final String TRACESTATE = "tracestate";

  private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();

  private static final TextMapGetter<Headers> FROM_HEADERS = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Headers headers) {
      List<String> keys = new ArrayList<>();
      for (Header h : headers) {
        keys.add(h.key());
      }
      return keys;
    }

    @Override
    public String get(Headers headers, String key) {
      if (headers == null) {
        return null;
      }
      Header h = headers.lastHeader(key);
      return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
  };

  private static final TextMapSetter<Headers> TO_HEADERS = (headers, key, value) -> {
    if (headers != null) {
      headers.remove(key);
      headers.add(key, value.getBytes(StandardCharsets.UTF_8));
    }
  };

  private KafkaTracing() {}

  /**
   * The tracer every Reelay part makes its spans with: the SDK's when one is installed, else a
   * no-op ({@code getOrNoop}: never an autoconfiguration attempt, nor the global fixed to no-op).
   */
  public static Tracer tracer() {
    return GlobalOpenTelemetry.getOrNoop().getTracer(SCOPE);
  }

  /**
   * The trace context a record carries; {@link Context#root()} when it has none, or one that is
   * not a valid W3C {@code traceparent} (a producer's header is input like any other).
   */
  public static Context extract(Headers headers) {
    return W3C.extract(Context.root(), headers, FROM_HEADERS);
  }

  /** Puts {@code context}'s span (if it has a valid one) on {@code headers}, replacing any trace headers there. */
  public static void inject(Context context, Headers headers) {
    headers.remove(TRACEPARENT);
    headers.remove(TRACESTATE);
    W3C.inject(context, headers, TO_HEADERS);
  }

  /** The W3C propagator, for carriers other than Kafka headers (HTTP). */
  public static TextMapPropagator propagator() {
    return W3C;
  }

  /**
   * A PRODUCER span for sending a record of {@code requestId} to {@code topic}, child of {@code
   * parent}: inject the context it answers into the record, and {@link #end} it with the send.
   */
  public static Context producer(Context parent, String topic, String requestId) {
    Span span = tracer().spanBuilder("publish " + topic)
        .setSpanKind(SpanKind.PRODUCER)
        .setParent(parent)
        .setAttribute("messaging.system", "kafka")
        .setAttribute("messaging.operation.type", "send")
        .setAttribute("messaging.destination.name", topic)
        .setAttribute("reelay.request_id", requestId)
        .startSpan();
    return parent.with(span);
  }

  /**
   * A CONSUMER span for handling {@code record} (of {@code requestId}), child of the trace the
   * record carries: make it current (or hand it on) while the record is handled, and {@link #end}
   * it when that is done.
   */
  public static Context consumer(ConsumerRecord<?, ?> record, String requestId) {
    Context parent = extract(record.headers());
    Span span = tracer().spanBuilder("process " + record.topic())
        .setSpanKind(SpanKind.CONSUMER)
        .setParent(parent)
        .setAttribute("messaging.system", "kafka")
        .setAttribute("messaging.operation.type", "process")
        .setAttribute("messaging.destination.name", record.topic())
        .setAttribute("messaging.destination.partition.id", Integer.toString(record.partition()))
        .setAttribute("messaging.kafka.offset", record.offset())
        .setAttribute("reelay.request_id", requestId)
        .startSpan();
    return parent.with(span);
  }

  /** Ends the span of {@code context} once {@code done} completes, marked failed if it failed. */
  public static <T> CompletionStage<T> end(Context context, CompletionStage<T> done) {
    Span span = Span.fromContext(context);
    return done.whenComplete((ok, err) -> {
      if (err != null) {
        span.setStatus(StatusCode.ERROR, err.getClass().getSimpleName());
      }
      span.end();
    });
  }
}
