package io.reelay.status;

import com.typesafe.config.ConfigFactory;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * All routes of the status service in one place: authentication, per-resource routes, the
 * dashboard and its media proxy, request timeout, metrics, and the seal (every error answered as
 * JSON).
 */
final class StatusRoutes extends AllDirectives {

  private final ApiKeys apiKeys;
  private final RequestRoutes requests;
  private final SessionRoutes sessions;
  private final HealthRoutes health;
  private final MediaLinks mediaLinks;
  private final MediaProxy media;
  private final DashboardRoutes dashboard = new DashboardRoutes();
  private final StatusSettings settings;
  private final PeerRoutes peers; // null: no peers
  private final PrometheusMeterRegistry registry;

  /** With the webhook settings of this system's config (tests). */
  StatusRoutes(
      StatusSettings settings,
      Map<String, String> apiKeys,
      StatusQueries view,
      RequestPublisher publisher,
      BooleanSupplier ready,
      PrometheusMeterRegistry registry) {
    this(settings, apiKeys, view, publisher, ready, () -> "not ready", registry,
        WebhookSettings.from(ConfigFactory.load().getConfig("reelay.webhooks")), null);
  }

  /**
   * @param notReadyBecause what {@code /readyz} says while not ready
   * @param webhooks what a callbackUrl must satisfy at submit (a destination, a tenant's secret)
   * @param peers the internal API other status instances ask (null: none)
   */
  StatusRoutes(
      StatusSettings settings,
      Map<String, String> apiKeys,
      StatusQueries view,
      RequestPublisher publisher,
      BooleanSupplier ready,
      Supplier<String> notReadyBecause,
      PrometheusMeterRegistry registry,
      WebhookSettings webhooks,
      PeerRoutes peers) {
    this.peers = peers;
    this.settings = settings;
    this.registry = registry;
    this.apiKeys = new ApiKeys(apiKeys);
    TenantLimits limits = new TenantLimits(settings.limits());
    for (String tenant : new TreeSet<>(apiKeys.values())) {
      Gauge.builder("reelay_status_sse_watchers", limits, l -> l.watching(tenant))
          .description("live event streams open now, by tenant")
          .tag("tenant", tenant)
          .register(registry);
    }
    this.requests = new RequestRoutes(view, publisher, settings, limits, webhooks);
    this.sessions = new SessionRoutes(view, settings);
    this.health = new HealthRoutes(ready, notReadyBecause, view, registry);
    this.mediaLinks = new MediaLinks(settings.mediaLinks(), view);
    this.media = new MediaProxy(mediaLinks, view, settings.mediaLinks());
  }

  Route route() {
    Route api =
        concat(
            peers == null ? reject() : peers.route(),
            health.route(),
            dashboard.route(),
            media.route(),
            pathPrefix(
                "v1",
                () ->
                    apiKeys.authenticated(
                        tenant ->
                            concat(
                                pathPrefix("requests", () -> concat(mediaLinks.route(tenant), requests.route(tenant))),
                                pathPrefix("sessions", () -> sessions.route(tenant))))));
    Route sealed =
        withRequestTimeout(
                settings.requestTimeout(),
                req -> ApiErrors.response(StatusCodes.SERVICE_UNAVAILABLE, "UNAVAILABLE", "the request timed out"),
                () -> api)
            .seal(ApiErrors.rejectionHandler(), ApiErrors.exceptionHandler());
    return measured(sealed);
  }

  /** Counts and times every answer by method and status (never by path: ids would explode it). */
  private Route measured(Route inner) {
    return extractRequest(
        req -> {
          long start = System.nanoTime();
          return mapResponse(
              resp -> {
                Timer.builder("reelay_status_http_requests")
                    .description("HTTP requests answered (time to the response head)")
                    .tag("method", req.method().name())
                    .tag("status", Integer.toString(resp.status().intValue()))
                    .register(registry)
                    .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                return resp;
              },
              () -> inner);
        });
  }
}
