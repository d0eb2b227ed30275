package io.reelay.status;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status service: a {@link StatusView} fed from the events topic and the HTTP API on top of
 * it. Start it with {@link #start}; it stops with {@link #stop()} or with the actor system
 * (registered with {@link CoordinatedShutdown}).
 */
public final class StatusServer {

  private static final Logger log = LoggerFactory.getLogger(StatusServer.class);

  private final ServerBinding binding;
  private final String host;
  private final StatusView view;
  private final EventFeed feed;
  private final RequestPublisher publisher;
  private final WebhookDispatcher webhooks; // null when disabled
  private final AtomicReference<CompletableFuture<Done>> stopping = new AtomicReference<>();

  private StatusServer(
      ServerBinding binding, String host, StatusView view, EventFeed feed, RequestPublisher publisher, WebhookDispatcher webhooks) {
    this.webhooks = webhooks;
    this.binding = binding;
    this.host = host;
    this.view = view;
    this.feed = feed;
    this.publisher = publisher;
  }

  /** Starts with the API keys of {@code settings}. */
  public static CompletionStage<StatusServer> start(
      ActorSystem<?> system, StatusSettings settings, String bootstrapServers, Topics topics) {
    return start(system, settings, settings.apiKeys(), bootstrapServers, topics);
  }

  /**
   * Starts reading {@code topics.events()} and binds the HTTP API.
   *
   * @param apiKeys API key → tenant; every {@code /v1} call needs one of these keys (none: every
   *     {@code /v1} call answers 401)
   */
  public static CompletionStage<StatusServer> start(
      ActorSystem<?> system,
      StatusSettings settings,
      Map<String, String> apiKeys,
      String bootstrapServers,
      Topics topics) {
    // first: a malformed webhook secret or allow entry fails the start before anything runs
    WebhookSettings hooks = WebhookSettings.from(system.settings().config().getConfig("reelay.webhooks"));
    if (apiKeys.isEmpty()) {
      log.warn("no API keys configured: every /v1 call will answer 401");
    }
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    StatusView view = StatusView.create(settings);
    for (RequestState state : RequestState.values()) {
      Gauge.builder("reelay_status_requests", view, v -> v.count(state))
          .description("requests in the view by their latest state")
          .tag("state", state.name())
          .register(registry);
    }
    Gauge.builder("reelay_status_sse_streams", view, StatusView::followers)
        .description("live SSE subscribers")
        .register(registry);
    EventFeed feed = EventFeed.start(system, settings, bootstrapServers, topics.events(), view, registry);
    Gauge.builder("reelay_status_ready", feed, f -> f.isReady() ? 1 : 0)
        .description("1 once the view caught up with the events topic")
        .register(registry);
    Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
    RequestPublisher publisher = new KafkaRequestPublisher(bootstrapServers, topics, settings, blocking);
    StatusRoutes routes = new StatusRoutes(settings, apiKeys, view, publisher, feed::isReady, registry, hooks);
    WebhookDispatcher webhooks = hooks.enabled()
        ? WebhookDispatcher.start(system, hooks, bootstrapServers, topics.completions(), registry)
        : null;

    return Http.get(system)
        .newServerAt(settings.host(), settings.port())
        .bind(routes.route())
        .handle(
            (binding, error) -> {
              if (error != null) {
                view.close();
                feed.stop();
                publisher.close();
                if (webhooks != null) {
                  webhooks.stop();
                }
                throw new IllegalStateException(
                    "cannot bind the status HTTP server to " + settings.host() + ":" + settings.port() + ": " + error.getMessage(),
                    error);
              }
              StatusServer server = new StatusServer(binding, settings.host(), view, feed, publisher, webhooks);
              CoordinatedShutdown.get(system)
                  .addTask(CoordinatedShutdown.PhaseServiceUnbind(), "reelay-status-stop-" + server.port(), server::stop);
              log.info("status API on {} (events from {})", server.baseUrl(), topics.events());
              return server;
            });
  }

  /** The bound port (useful with port 0). */
  public int port() {
    return binding.localAddress().getPort();
  }

  /** {@code http://HOST:PORT}, with a loopback address when bound to all interfaces. */
  public String baseUrl() {
    String h = host.equals("0.0.0.0") || host.equals("::") ? "127.0.0.1" : host;
    return "http://" + h + ":" + port();
  }

  /** The view behind the API (read-only use: tests, the CLI's embedded mode). */
  public StatusView view() {
    return view;
  }

  /** Whether the view caught up with the events topic (what {@code /readyz} answers). */
  public boolean isReady() {
    return feed.isReady();
  }

  /** Unbinds, ends live streams, stops the consumer and the producer. Idempotent. */
  public CompletionStage<Done> stop() {
    CompletableFuture<Done> mine = new CompletableFuture<>();
    if (!stopping.compareAndSet(null, mine)) {
      return stopping.get();
    }
    binding
        .unbind()
        .exceptionally(t -> Done.getInstance())
        .thenCompose(
            d -> {
              view.close();
              return binding.terminate(Duration.ofSeconds(3));
            })
        .exceptionally(t -> null)
        .thenCompose(t -> feed.stop())
        .thenCompose(t -> webhooks == null ? CompletableFuture.completedFuture(Done.getInstance()) : webhooks.stop())
        .whenComplete(
            (d, t) -> {
              publisher.close();
              log.info("status API on port {} stopped", port());
              mine.complete(Done.getInstance());
            });
    return mine;
  }

  /** {@code reelay status-server}: configured by {@code reelay.conf} and the environment. */
  public static void main(String[] args) {
    Config config = ConfigFactory.load();
    StatusSettings settings = StatusSettings.from(config.getConfig("reelay.status"));
    String bootstrap = config.getString("reelay.kafka.bootstrap-servers");
    Topics topics = Topics.withPrefix(config.getString("reelay.topics.prefix"));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "reelay-status", config);
    try {
      StatusServer server = start(system, settings, bootstrap, topics).toCompletableFuture().join();
      System.out.println("status listening on " + server.baseUrl());
      System.out.flush();
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      System.err.println("status server failed to start: " + cause.getMessage());
      system.terminate();
      System.exit(1);
    }
  }
}
