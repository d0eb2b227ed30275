package io.reelay.status;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status service: the status view, a Kafka Streams application over the events topic ({@link
 * StatusStreams}), and the HTTP API on top of it. Start it with {@link #start}; it stops with {@link
 * #stop()} or with the actor system (registered with {@link CoordinatedShutdown}).
 */
public final class StatusServer {

  private static final Logger log = LoggerFactory.getLogger(StatusServer.class);

  private final ServerBinding binding;
  private final String host;
  private final LiveEvents live;
  private final StatusStreams streams;
  private final RoutedStatus queries;
  private final RequestPublisher publisher;
  private final WebhookDispatcher webhooks; // null when disabled
  private final AtomicReference<CompletableFuture<Done>> stopping = new AtomicReference<>();

  private StatusServer(
      ServerBinding binding, String host, LiveEvents live, StatusStreams streams, RoutedStatus queries, RequestPublisher publisher,
      WebhookDispatcher webhooks) {
    this.webhooks = webhooks;
    this.binding = binding;
    this.host = host;
    this.live = live;
    this.streams = streams;
    this.queries = queries;
    this.publisher = publisher;
  }

  /** Starts with the API keys of {@code settings}. */
  public static CompletionStage<StatusServer> start(
      ActorSystem<?> system, StatusSettings settings, String bootstrapServers, Topics topics) {
    return start(system, settings, settings.apiKeys(), bootstrapServers, topics);
  }

  /**
   * Binds the HTTP API, then starts the status streams over {@code topics.events()} (advertising the
   * bound address to the other instances).
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
    StoreSettings store = settings.store();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    LiveEvents live = new LiveEvents(settings.sseBuffer());
    StatusProcessor.Settings processing =
        new StatusProcessor.Settings(settings.maxHistoryPerRequest(), store.maxHistoryBytes(), store.retention(), store.purgeInterval());
    StatusStreams streams = StatusStreams.create(
        store, applicationId(store, topics), bootstrapServers, topics.events(), processing, live, registry);
    LocalStatus local = new LocalStatus(streams, live, settings.maxHistoryPerRequest());
    String peerKey = store.peerKey().isBlank() ? PeerRoutes.processKey() : store.peerKey();
    PeerClient peerClient = new PeerClient(system, peerKey, store.peerTimeout(), store.peerConnections(), store.maxHistoryBytes() + 4096);
    RoutedStatus queries = new RoutedStatus(streams, local, peerClient);
    PeerRoutes peers = new PeerRoutes(peerKey, local, queries::staleHere, settings);
    Gauge.builder("reelay_status_store_requests", queries, StatusQueries::approximateCount)
        .description("requests in the stores this instance owns (RocksDB's estimate)")
        .register(registry);
    Gauge.builder("reelay_status_sse_streams", queries, StatusQueries::liveFollowers)
        .description("live SSE subscribers of the requests this instance owns")
        .register(registry);
    Gauge.builder("reelay_status_ready", streams, s -> s.isReady() ? 1 : 0)
        .description("1 once the status stores are restored and running")
        .register(registry);
    Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
    RequestPublisher publisher = new KafkaRequestPublisher(bootstrapServers, topics, settings, blocking);
    StatusRoutes routes = new StatusRoutes(settings, apiKeys, queries, publisher, streams::isReady, streams::notReadyBecause, registry,
        hooks, peers);
    WebhookDispatcher webhooks = hooks.enabled()
        ? WebhookDispatcher.start(system, hooks, bootstrapServers, topics.completions(), registry)
        : null;

    return Http.get(system)
        .newServerAt(settings.host(), settings.port())
        .bind(routes.route())
        .handle(
            (binding, error) -> {
              if (error != null) {
                live.close();
                publisher.close();
                if (webhooks != null) {
                  webhooks.stop();
                }
                throw new IllegalStateException(
                    "cannot bind the status HTTP server to " + settings.host() + ":" + settings.port() + ": " + error.getMessage(),
                    error);
              }
              int port = binding.localAddress().getPort();
              streams.start(new HostInfo(advertisedHost(settings), port));
              StatusServer server = new StatusServer(binding, settings.host(), live, streams, queries, publisher, webhooks);
              CoordinatedShutdown.get(system)
                  .addTask(CoordinatedShutdown.PhaseServiceUnbind(), "reelay-status-stop-" + server.port(), server::stop);
              log.info("status API on {} (events from {}, stores in {})", server.baseUrl(), topics.events(),
                  store.stateDir().toAbsolutePath());
              return server;
            });
  }

  /** The Kafka Streams application of the deployment: configured, else {@code <topics prefix>.status}. */
  static String applicationId(StoreSettings store, Topics topics) {
    if (!store.applicationId().isBlank()) {
      return store.applicationId();
    }
    String events = topics.events();
    String prefix = events.endsWith(".events") ? events.substring(0, events.length() - ".events".length()) : events;
    return prefix + ".status";
  }

  /** The host the other instances reach this one at. */
  static String advertisedHost(StatusSettings settings) {
    String configured = settings.store().advertisedHost();
    if (!configured.isBlank()) {
      return configured;
    }
    String h = settings.host();
    return h.equals("0.0.0.0") || h.equals("::") ? "127.0.0.1" : h;
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

  /** Whether the status stores are restored and running (what {@code /readyz} answers). */
  public boolean isReady() {
    return streams.isReady();
  }

  /** What the view answers (tests). */
  StatusQueries queries() {
    return queries;
  }

  /** The events partitions this instance owns now (tests). */
  List<Integer> ownedPartitions() {
    return streams.partitions();
  }

  /** Whether this instance owns the partition of a tenant's request now (tests). */
  boolean owns(String tenant, String requestId) {
    KeyQueryMetadata m = streams.owner(Listing.requestKey(tenant, requestId));
    return m != KeyQueryMetadata.NOT_AVAILABLE && streams.self().equals(m.activeHost());
  }

  /** The copy of a request's status on this instance, active or standby (tests). */
  Optional<RequestStatus> copyHere(String tenant, String requestId) {
    return queries.staleHere(tenant, requestId);
  }

  /** Unbinds, ends live streams, stops the streams (leaving the group), the producer and the webhooks. Idempotent. */
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
              live.close();
              return binding.terminate(Duration.ofSeconds(3));
            })
        .exceptionally(t -> null)
        .thenCompose(t -> streams.stop(Duration.ofSeconds(10)))
        .thenCompose(t -> webhooks == null ? CompletableFuture.completedFuture(Done.getInstance()) : webhooks.stop())
        .whenComplete(
            (d, t) -> {
              publisher.close();
              log.info("status API on port {} stopped", port());
              mine.complete(Done.getInstance());
            });
    return mine;
  }

  /**
   * Stops as a crash would: the HTTP port closes at once and the streams stop without leaving the
   * group, so the others learn of it only when its session times out (tests of failover).
   */
  CompletionStage<Done> crash() {
    CompletableFuture<Done> mine = new CompletableFuture<>();
    if (!stopping.compareAndSet(null, mine)) {
      return stopping.get();
    }
    return binding.terminate(Duration.ofMillis(1)).thenApply(t -> {
      live.close();
      streams.crash();
      if (webhooks != null) {
        webhooks.stop();
      }
      publisher.close();
      mine.complete(Done.getInstance());
      return Done.getInstance();
    });
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
