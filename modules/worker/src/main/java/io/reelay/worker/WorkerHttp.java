package io.reelay.worker;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * A worker's own endpoints, for the orchestrator and the scraper: {@code /healthz} (the process is
 * alive), {@code /readyz} (200 once the worker is in its group with its partitions' snapshots
 * restored and its producer usable; 503 naming what is missing) and {@code /metrics} (the
 * process's Prometheus registry). No API key: bind them where only the platform can reach them
 * ({@code reelay.worker.http-host}, loopback by default).
 */
final class WorkerHttp extends AllDirectives {

  /** What {@code /readyz} says: null when ready, else what is missing. */
  interface Readiness extends Supplier<String> {}

  private static final ContentType PROMETHEUS = ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  private final Readiness readiness;
  private final PrometheusMeterRegistry registry;

  private WorkerHttp(Readiness readiness, PrometheusMeterRegistry registry) {
    this.readiness = readiness;
    this.registry = registry;
  }

  static CompletionStage<ServerBinding> bind(ActorSystem<?> system, String host, int port, Readiness readiness,
      PrometheusMeterRegistry registry) {
    return Http.get(system).newServerAt(host, port).bind(new WorkerHttp(readiness, registry).route());
  }

  Route route() {
    return get(() -> concat(
        path("healthz", () -> complete(json(200, "{\"status\":\"alive\"}"))),
        path("readyz", () -> {
          String missing = readiness.get();
          return complete(missing == null
              ? json(200, "{\"status\":\"ready\"}")
              : json(503, "{\"status\":\"not ready\",\"waiting\":\"" + missing.replace("\"", "'") + "\"}"));
        }),
        path("metrics", () -> complete(HttpResponse.create()
            .withEntity(HttpEntities.create(PROMETHEUS, registry.scrape().getBytes(StandardCharsets.UTF_8)))))));
  }

  private static HttpResponse json(int status, String body) {
    return HttpResponse.create()
        .withStatus(StatusCodes.get(status))
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
  }
}
