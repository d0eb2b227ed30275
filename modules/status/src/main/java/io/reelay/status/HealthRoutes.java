package io.reelay.status;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code /healthz}, {@code /readyz}, {@code /metrics}: for orchestrators and scrapers; {@code
 * /openapi.yaml}: the API's OpenAPI 3.1 document, for clients. No auth.
 */
final class HealthRoutes extends AllDirectives {

  private static final ContentType PROMETHEUS_TEXT =
      ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  /** The hand-written document of every route (OpenApiContractTest holds it to what the routes answer). */
  static final String OPENAPI_RESOURCE = "io/reelay/status/openapi.yaml";

  // application/yaml (RFC 9512) is UTF-8 by definition: no charset parameter
  private static final ContentType YAML =
      ContentTypes.create(MediaTypes.customWithFixedCharset("application", "yaml", HttpCharsets.UTF_8, Map.of(), true, "yaml"));

  private static final byte[] OPENAPI = load(OPENAPI_RESOURCE);

  private final BooleanSupplier ready;
  private final Supplier<String> notReadyBecause;
  private final StatusQueries view;
  private final PrometheusMeterRegistry registry;

  HealthRoutes(BooleanSupplier ready, Supplier<String> notReadyBecause, StatusQueries view, PrometheusMeterRegistry registry) {
    this.ready = ready;
    this.notReadyBecause = notReadyBecause;
    this.view = view;
    this.registry = registry;
  }

  /**
   * The method is checked inside each path, never around them: a {@code get} that matches cancels
   * the method rejections of the routes after it, which would turn a GET of a POST-only path
   * ({@code /v1/requests/{id}/cancel}) into 404 instead of 405.
   */
  Route route() {
    return concat(
        path("healthz", () -> get(() -> complete(RequestRoutes.json(StatusCodes.OK, body("ok"))))),
        path("readyz", () -> get(this::readiness)),
        path("openapi.yaml", () -> get(() -> complete(HttpResponse.create().withEntity(HttpEntities.create(YAML, OPENAPI))))),
        path("metrics", () -> get(() -> complete(HttpResponse.create()
            .withEntity(HttpEntities.create(PROMETHEUS_TEXT, registry.scrape().getBytes(StandardCharsets.UTF_8)))))));
  }

  private Route readiness() {
    if (ready.getAsBoolean()) {
      ObjectNode b = body("ready");
      b.put("requests", view.approximateCount());
      return complete(RequestRoutes.json(StatusCodes.OK, b));
    }
    return complete(
        RequestRoutes.json(StatusCodes.SERVICE_UNAVAILABLE, body(notReadyBecause.get())));
  }

  private static byte[] load(String resource) {
    try (InputStream in = HealthRoutes.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(resource + " is missing from the class path");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ObjectNode body(String status) {
    ObjectNode n = Json.mapper().createObjectNode();
    n.put("status", status);
    return n;
  }
}
