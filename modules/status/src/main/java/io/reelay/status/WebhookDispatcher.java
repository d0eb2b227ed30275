package io.reelay.status;

import com.typesafe.config.Config;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.net.URI;
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
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
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
 */
public final class WebhookDispatcher {

  private static final Logger log = LoggerFactory.getLogger(WebhookDispatcher.class);

  private final Settings settings;
  private final Http http;
  private final ActorSystem<?> system;
  private UniqueKillSwitch killSwitch;
  private CompletionStage<Done> done;

  /** {@code reelay.webhooks}. */
  public record Settings(
      boolean enabled,
      String groupId,
      String secret,
      int parallelism,
      Duration timeout,
      int maxAttempts,
      Duration backoffMin,
      Duration backoffMax,
      Map<String, String> consumerProperties) {

    public static Settings from(Config c) {
      Map<String, String> props = StatusSettings.properties(c.getConfig("consumer-properties"));
      Settings s = new Settings(c.getBoolean("enabled"), c.getString("group-id"), c.getString("secret"),
          c.getInt("parallelism"), c.getDuration("timeout"), c.getInt("max-attempts"), c.getDuration("backoff-min"),
          c.getDuration("backoff-max"), Map.copyOf(props));
      if (s.parallelism < 1 || s.maxAttempts < 1) {
        throw new IllegalArgumentException("reelay.webhooks: parallelism and max-attempts must be at least 1");
      }
      return s;
    }

    @Override
    public String toString() { // never the secret
      return "WebhookSettings[enabled=" + enabled + ", groupId=" + groupId + ", signed=" + !secret.isEmpty()
          + ", parallelism=" + parallelism + ", timeout=" + timeout + ", maxAttempts=" + maxAttempts + "]";
    }
  }

  private WebhookDispatcher(ActorSystem<?> system, Settings settings) {
    this.system = system;
    this.settings = settings;
    this.http = Http.get(system);
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

  private CompletionStage<Done> deliver(ConsumerRecord<String, byte[]> record) {
    Header h = record.headers().lastHeader(Topics.CALLBACK_URL_HEADER);
    if (h == null || record.value() == null) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    String url = new String(h.value(), StandardCharsets.UTF_8);
    String host;
    try {
      host = URI.create(url).getHost();
    } catch (IllegalArgumentException e) {
      log.warn("webhook of {} not sent: its callback URL is not a URL", record.key());
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    String eventId = eventId(record);
    return attempt(url, host, record.key(), eventId, record.value(), 1);
  }

  private CompletionStage<Done> attempt(String url, String host, String requestId, String eventId, byte[] body, int n) {
    HttpRequest req = HttpRequest.POST(url)
        .withEntity(ContentTypes.APPLICATION_JSON, body)
        .addHeader(RawHeader.create("Reelay-Event-Id", eventId))
        .addHeader(RawHeader.create("User-Agent", "reelay-webhooks/1"));
    if (!settings.secret().isEmpty()) {
      req = req.addHeader(RawHeader.create("Reelay-Signature", signature(settings.secret(), Instant.now().getEpochSecond(), body)));
    }
    CompletionStage<Integer> status = http.singleRequest(req)
        .thenApply(r -> {
          r.discardEntityBytes(system);
          return r.status().intValue();
        })
        .toCompletableFuture()
        .orTimeout(settings.timeout().toMillis(), TimeUnit.MILLISECONDS);
    return status.handle((code, err) -> {
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
          () -> attempt(url, host, requestId, eventId, body, n + 1));
    }).thenCompose(x -> x);
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
    return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
  }
}
