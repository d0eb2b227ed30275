package io.reelay.status;

import io.opentelemetry.context.Context;
import io.reelay.protocol.Request;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

/** A publisher that keeps what it is given (route tests without Kafka). */
final class RecordingPublisher implements RequestPublisher {

  final List<Request> published = new CopyOnWriteArrayList<>();

  @Override
  public CompletionStage<Void> publish(Request request, Context trace) {
    published.add(request);
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public void close() {}
}
