package io.reelay.status;

import io.reelay.protocol.Request;
import java.util.concurrent.CompletionStage;

/** Puts a request on the requests topic, keyed by its session. */
interface RequestPublisher extends AutoCloseable {

  /** Completes once Kafka acknowledged the record (acks=all). */
  CompletionStage<Void> publish(Request request);

  @Override
  void close();
}
