package io.reelay.status;

import com.typesafe.config.Config;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestValidation;
import io.reelay.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.kafka.CommitterSettings;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Committer;
import org.apache.pekko.kafka.javadsl.Consumer;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.RestartSettings;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.RestartSource;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Webhooks: a request sent with a {@code callbackUrl} gets its terminal event POSTed there.
 *
 * <p>The worker puts the URL in a header ({@link Topics#CALLBACK_URL_HEADER}) of the request's record on the
 * completions topic, never in the event itself (a URL may carry the receiver's own secret, and the
 * status API shows events). This dispatcher reads the completions topic as a consumer group of its
 * own and commits a record once its webhook was delivered or given up: delivery is at least once,
 * and survives restarts. Each POST carries the event JSON, {@code Reelay-Event-Id: requestId:seq}
 * (the same id for a repeat, so receivers can drop it) and, with a secret configured, {@code
 * Reelay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">}. A 2xx answer delivers;
 * 408, 429, 5xx and network errors are retried with exponential backoff; other answers are final.
 * URLs are logged by host only.
 *
 * <p>Destinations are independent: every POST runs in the lane of its destination ({@code
 * scheme://host:port}, {@link DestinationLanes}), at most {@code per-destination-parallelism} at a
 * time, each bounded by {@code timeout} (the connection is dropped when it stays silent that long).
 * A receiver that never answers holds only its own lane; the others carry on. Up to {@code
 * parallelism} records are in delivery at once; offsets are committed in record order, so a record
 * is committed only once it and every record before it on its partition were delivered or given
 * up. A callback URL that cannot be sent to (e.g. on a record from before submit checked it) is
 * logged once, without its query, and skipped: it never fails the stream.
 */
public final class WebhookDispatcher {

  private static final Logger log = LoggerFactory.getLogger(WebhookDispatcher.class);

  private final Settings settings;
  private final Http http;
  private final ActorSystem<?> system;
  private final DestinationLanes lanes;
  private final ConnectionPoolSettings pool;
  private UniqueKillSwitch killSwitch;
  private CompletionStage<Done> done;

  /** {@code reelay.webhooks}. */
  public record Settings(
      boolean enabled,
      String groupId,
      String secret,
      int parallelism,
      int perDestinationParallelism,
      Duration timeout,
      int maxAttempts,
      Duration backoffMin,
      Duration backoffMax,
      Map<String, String> consumerProperties) {

    public Settings {
      if (parallelism < 1 || perDestinationParallelism < 1 || maxAttempts < 1) {
        throw new IllegalArgumentException(
            "reelay.webhooks: parallelism, per-destination-parallelism and max-attempts must be at least 1");
      }
    }

    /** With the default {@code per-destination-parallelism} (4, at most {@code parallelism}). */
    public Settings(boolean enabled, String groupId, String secret, int parallelism, Duration timeout, int maxAttempts,
        Duration backoffMin, Duration backoffMax, Map<String, String> consumerProperties) {
      this(enabled, groupId, secret, parallelism, Math.max(1, Math.min(4, parallelism)), timeout, maxAttempts, backoffMin,
          backoffMax, consumerProperties);
    }

    public static Settings from(Config c) {
      Map<String, String> props = StatusSettings.properties(c.getConfig("consumer-properties"));
      return new Settings(c.getBoolean("enabled"), c.getString("group-id"), c.getString("secret"),
          c.getInt("parallelism"), c.getInt("per-destination-parallelism"), c.getDuration("timeout"),
          c.getInt("max-attempts"), c.getDuration("backoff-min"), c.getDuration("backoff-max"), Map.copyOf(props));
    }

    @Override
    public String toString() { // never the secret
      return "WebhookSettings[enabled=" + enabled + ", groupId=" + groupId + ", signed=" + !secret.isEmpty()
          + ", parallelism=" + parallelism + ", perDestinationParallelism=" + perDestinationParallelism
          + ", timeout=" + timeout + ", maxAttempts=" + maxAttempts + "]";
    }
  }

  private WebhookDispatcher(ActorSystem<?> system, Settings settings) {
    this.system = system;
    this.settings = settings;
    this.http = Http.get(system);
    this.lanes = new DestinationLanes(settings.perDestinationParallelism(), system.executionContext());
    // one pool per host:port: as many connections as the lane runs POSTs, and a connection that
    // stays silent for the webhook timeout is closed (a black hole does not keep its slot)
    this.pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(settings.perDestinationParallelism())
        .withMaxOpenRequests(Integer.highestOneBit(Math.max(32, settings.perDestinationParallelism()) * 2 - 1))
        .withConnectionSettings(ClientConnectionSettings.create(system.classicSystem()).withIdleTimeout(settings.timeout()));
  }

  /** Starts following {@code completionsTopic}. */
  public static WebhookDispatcher start(ActorSystem<?> system, Settings settings, String bootstrapServers, String completionsTopic) {
    WebhookDispatcher d = new WebhookDispatcher(system, settings);
    ConsumerSettings<String, byte[]> consumer =
        ConsumerSettings.create(EventFeed.consumerConfig(system, settings.consumerProperties()), new StringDeserializer(),
                new ByteArrayDeserializer())
            .withBootstrapServers(bootstrapServers)
            .withGroupId(settings.groupId())
            .withClientId(settings.groupId())
            .withProperties(settings.consumerProperties())
            .withProperty("enable.auto.commit", "false")
            .withStopTimeout(Duration.ZERO);
    CommitterSettings committer = CommitterSettings.create(system);
    Pair<UniqueKillSwitch, CompletionStage<Done>> mat =
        RestartSource.onFailuresWithBackoff(
                RestartSettings.create(Duration.ofSeconds(1), Duration.ofSeconds(30), 0.2),
                () -> Consumer.committableSource(consumer, Subscriptions.topics(completionsTopic))
                    // up to `parallelism` records in delivery at once, each in its destination's lane; the
                    // offsets come out in record order, so none is committed before the ones ahead of it
                    .mapAsync(settings.parallelism(), m -> d.deliver(m.record()).thenApply(x -> m.committableOffset()))
                    .via(Committer.flow(committer)))
            .viaMat(KillSwitches.single(), Keep.right())
            .toMat(Sink.ignore(), Keep.both())
            .run(system);
    d.killSwitch = mat.first();
    d.done = mat.second();
    log.info("webhooks: following {} as group {}", completionsTopic, settings.groupId());
    return d;
  }

  /** Stops following; webhooks in flight and not yet committed are sent again on the next start. */
  public CompletionStage<Done> stop() {
    killSwitch.shutdown();
    return done.exceptionally(t -> Done.getInstance())
        .toCompletableFuture()
        .completeOnTimeout(Done.getInstance(), 10, TimeUnit.SECONDS);
  }

  /** Where a webhook goes: the parsed URL, its host (for logs) and its lane. */
  private record Target(Uri uri, String host, String destination) {}

  /** Delivers or gives up; never fails (a failed stage would stop the stream and re-read the record forever). */
  private CompletionStage<Done> deliver(ConsumerRecord<String, byte[]> record) {
    try {
      Header h = record.headers().lastHeader(Topics.CALLBACK_URL_HEADER);
      if (h == null || h.value() == null || record.value() == null) {
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      String url = new String(h.value(), StandardCharsets.UTF_8);
      Target target = target(url, record);
      if (target == null) {
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      String eventId = eventId(record);
      HttpRequest base = HttpRequest.create()
          .withMethod(HttpMethods.POST)
          .withUri(target.uri())
          .withEntity(ContentTypes.APPLICATION_JSON, record.value())
          .addHeader(RawHeader.create("Reelay-Event-Id", eventId))
          .addHeader(RawHeader.create("User-Agent", "reelay-webhooks/1"));
      return attempt(target, base, record.key(), record.value(), 1).exceptionally(t -> {
        log.warn("webhook of {} given up: {}", record.key(), unwrap(t).getClass().getSimpleName());
        return Done.getInstance();
      });
    } catch (RuntimeException e) {
      log.warn("webhook of {} not sent ({}); skipped", record.key(), e.getClass().getSimpleName());
      return CompletableFuture.completedFuture(Done.getInstance());
    }
  }

  /** The target of {@code url}, or null (logged) when no webhook can go there. */
  private static Target target(String url, ConsumerRecord<String, byte[]> record) {
    String problem = RequestValidation.callbackProblem(url);
    Uri uri = null;
    if (problem == null) {
      try {
        uri = Uri.create(url);
      } catch (RuntimeException e) {
        problem = "is not a URL pekko-http can send to (" + e.getClass().getSimpleName() + ")";
      }
    }
    if (problem != null) {
      log.warn("webhook of {} not sent: its callback URL {} {}; skipped ({}-{}@{})", record.key(), redacted(url), problem,
          record.topic(), record.partition(), record.offset());
      return null;
    }
    String host = uri.host().address();
    return new Target(uri, host, uri.scheme() + "://" + host + ":" + uri.port());
  }

  private CompletionStage<Done> attempt(Target target, HttpRequest base, String requestId, byte[] body, int n) {
    CompletionStage<Integer> status = lanes.run(target.destination(), () -> post(base, body));
    return status.handle((code, err) -> {
      String host = target.host();
      if (err == null && code >= 200 && code < 300) {
        log.debug("webhook of {} delivered to {} (attempt {})", requestId, host, n);
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      String what = err != null ? unwrap(err).getClass().getSimpleName() : "HTTP " + code;
      boolean retryable = err != null || code == 408 || code == 429 || code >= 500;
      if (!retryable || n >= settings.maxAttempts()) {
        log.warn("webhook of {} to {} given up after {} attempt(s): {}{}", requestId, host, n, what,
            retryable ? "" : " (not retried: fix the receiver, the event stays on the completions topic)");
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      Duration wait = backoff(n);
      log.info("webhook of {} to {}: {}; attempt {} of {} in {} ms", requestId, host, what, n + 1, settings.maxAttempts(),
          wait.toMillis());
      return Patterns.after(wait, system.classicSystem().scheduler(), system.executionContext(),
          () -> attempt(target, base, requestId, body, n + 1));
    }).thenCompose(x -> x);
  }

  /** One POST (signed now, when a secret is set): its status code, or a failure after {@code timeout}. */
  private CompletionStage<Integer> post(HttpRequest base, byte[] body) {
    HttpRequest req = settings.secret().isEmpty()
        ? base
        : base.addHeader(RawHeader.create("Reelay-Signature", signature(settings.secret(), Instant.now().getEpochSecond(), body)));
    return http.singleRequest(req, http.defaultClientHttpsContext(), pool, system.classicSystem().log())
        .thenApply(r -> {
          r.discardEntityBytes(system);
          return r.status().intValue();
        })
        .toCompletableFuture()
        .orTimeout(settings.timeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  /** {@code url} fit for a log: no query or fragment, no user info, printable, bounded. */
  static String redacted(String url) {
    String s = url;
    int cut = indexOfAny(s, "?#");
    if (cut >= 0) {
      s = s.substring(0, cut) + "?…";
    }
    int scheme = s.indexOf("://");
    if (scheme >= 0) {
      int at = s.indexOf('@', scheme + 3);
      int slash = s.indexOf('/', scheme + 3);
      if (at >= 0 && (slash < 0 || at < slash)) {
        s = s.substring(0, scheme + 3) + "…@" + s.substring(at + 1);
      }
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), 201));
    for (int i = 0; i < s.length() && b.length() < 200; i++) {
      char c = s.charAt(i);
      b.append(Character.isISOControl(c) ? '?' : c);
    }
    if (b.length() < s.length()) {
      b.append('…');
    }
    return b.toString();
  }

  private static int indexOfAny(String s, String chars) {
    for (int i = 0; i < s.length(); i++) {
      if (chars.indexOf(s.charAt(i)) >= 0) {
        return i;
      }
    }
    return -1;
  }

  /** The wait before attempt {@code n + 1}: doubling from backoff-min, at most backoff-max. */
  Duration backoff(int n) {
    long ms = settings.backoffMin().toMillis() << Math.min(20, n - 1);
    return Duration.ofMillis(Math.min(ms, settings.backoffMax().toMillis()));
  }

  private static String eventId(ConsumerRecord<String, byte[]> record) {
    try {
      var node = Json.mapper().readTree(record.value());
      return record.key() + ":" + node.path("seq").asLong();
    } catch (Exception e) {
      return record.key() + ":?";
    }
  }

  /** {@code t=<seconds>,v1=<hex HMAC-SHA256 of "<seconds>.<body>">}: what a receiver recomputes with the shared secret. */
  static String signature(String secret, long seconds, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      mac.update((seconds + ".").getBytes(StandardCharsets.UTF_8));
      return "t=" + seconds + ",v1=" + HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  private static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
