package io.reelay.status;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/** {@code /healthz}, {@code /readyz}, {@code /metrics}: for orchestrators and scrapers, no auth. */
final class HealthRoutes extends AllDirectives {

  private static final ContentType PROMETHEUS_TEXT =
      ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  private final BooleanSupplier ready;
  private final StatusView view;
  private final PrometheusMeterRegistry registry;

  HealthRoutes(BooleanSupplier ready, StatusView view, PrometheusMeterRegistry registry) {
    this.ready = ready;
    this.view = view;
    this.registry = registry;
  }

  Route route() {
    return get(
        () ->
            concat(
                path("healthz", () -> complete(RequestRoutes.json(StatusCodes.OK, body("ok")))),
                path("readyz", this::readiness),
                path(
                    "metrics",
                    () ->
                        complete(
                            HttpResponse.create()
                                .withEntity(HttpEntities.create(PROMETHEUS_TEXT, registry.scrape().getBytes(StandardCharsets.UTF_8)))))));
  }

  private Route readiness() {
    if (ready.getAsBoolean()) {
      ObjectNode b = body("ready");
      b.put("requests", view.size());
      return complete(RequestRoutes.json(StatusCodes.OK, b));
    }
    return complete(
        RequestRoutes.json(StatusCodes.SERVICE_UNAVAILABLE, body("catching up with the events topic")));
  }

  private static ObjectNode body(String status) {
    ObjectNode n = Json.mapper().createObjectNode();
    n.put("status", status);
    return n;
  }
}
