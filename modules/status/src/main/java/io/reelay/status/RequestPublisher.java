package io.reelay.status;

import io.opentelemetry.context.Context;
import io.reelay.protocol.Request;
import java.util.concurrent.CompletionStage;

/** Puts a request on the requests topic, keyed by its session. */
interface RequestPublisher extends AutoCloseable {

  /**
   * Completes once Kafka acknowledged the record (acks=all). {@code trace}: the context of the
   * call that submitted it (its span is the parent of the request's trace, carried in the record's
   * headers).
   */
  CompletionStage<Void> publish(Request request, Context trace);

  @Override
  void close();
}
