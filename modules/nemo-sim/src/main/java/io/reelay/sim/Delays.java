package io.reelay.sim;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Holds an answer back for a while: the configured latency of an endpoint, a slow-response fault.
 * The simulator uses the actor system's scheduler; a test can see what was chosen without timing it.
 */
interface Delays {

  /** {@code response}, answered after {@code delay}. */
  CompletionStage<HttpResponse> later(Duration delay, HttpResponse response);

  static Delays scheduler(ActorSystem<?> system) {
    return (delay, response) -> {
      CompletableFuture<HttpResponse> f = new CompletableFuture<>();
      system.scheduler().scheduleOnce(delay, () -> f.complete(response), system.executionContext());
      return f;
    };
  }
}
