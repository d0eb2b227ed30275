package io.reelay.status;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.reelay.protocol.Json;
import io.reelay.protocol.KafkaTracing;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestValidation;
import io.reelay.protocol.Topics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.http.javadsl.ClientTransport;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.kafka.CommitterSettings;
import org.apache.pekko.kafka.ConsumerMessage;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Committer;
import org.apache.pekko.kafka.javadsl.Consumer;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.RestartSettings;
import org.apache.pekko.stream.SharedKillSwitch;
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
 * and survives restarts. Each POST is a <a href="https://www.standardwebhooks.com/">Standard
 * Webhook</a>: the event JSON, {@code webhook-id} (derived from tenant, requestId and seq: the same
 * for every attempt of an event, so receivers can drop repeats), {@code webhook-timestamp} (unix
 * seconds of the attempt) and {@code webhook-signature} (one {@code v1,<base64 HMAC-SHA256>} per
 * secret of the event's tenant, {@link WebhookSecrets}). A tenant without a secret gets no webhooks
 * unless {@code allow-unsigned}. A 2xx answer delivers; 408, 429, 5xx and network errors are
 * retried with exponential backoff; other answers (3xx included: redirects are never followed) are
 * final. URLs are logged by host only.
 *
 * <p>Destinations are checked ({@link WebhookTargets}): the pool's transport resolves each host
 * off the dispatcher, refuses internal addresses not on {@code allow}, and connects to the very
 * address it checked (TLS still verifies the host name). A refused destination is given up at
 * once, never retried.
 *
 * <p>Destinations are independent: every POST runs in the lane of its destination ({@code
 * scheme://host:port}, {@link DestinationLanes}), at most {@code per-destination-parallelism} at a
 * time, each bounded by {@code timeout} (the connection is dropped when it stays silent that long).
 * A receiver that never answers holds only its own lane; the others carry on. Up to {@code
 * parallelism} records are in delivery at once; offsets are committed in record order, so a record
 * is committed only once it and every record before it on its partition were delivered or given
 * up. A record that cannot be sent (a callback URL submit would refuse, on a record from before
 * submit checked it or produced straight to Kafka; a tenant without a secret) is logged once,
 * without the URL's query, and skipped: it never fails the stream.
 */
public final class WebhookDispatcher {

  private static final Logger log = LoggerFactory.getLogger(WebhookDispatcher.class);

  private final WebhookSettings settings;
  private final MeterRegistry meters;
  private final Http http;
  private final ActorSystem<?> system;
  private final DestinationLanes lanes;
  private final ConnectionPoolSettings pool;
  private final SharedKillSwitch stopSwitch = KillSwitches.shared("webhooks");
  private CompletionStage<Done> done;
  private volatile boolean stopping;

  private static String tenantOrDefault(String tenant) {
    return tenant == null || tenant.isBlank() ? Request.DEFAULT_TENANT : tenant;
  }

  private WebhookDispatcher(ActorSystem<?> system, WebhookSettings settings, MeterRegistry meters) {
    this.meters = meters;
    this.system = system;
    this.settings = settings;
    this.http = Http.get(system);
    this.lanes = new DestinationLanes(settings.perDestinationParallelism(), system.executionContext());
    // every new connection resolves its host with our policy, off the dispatcher (InetAddress blocks),
    // and goes to the address that was checked: no second lookup a rebinding DNS could answer differently
    Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
    ClientTransport checked = ClientTransport.withCustomResolver((host, port) -> resolve(host, (Integer) port, blocking));
    // one pool per host:port: as many connections as the lane runs POSTs, and a connection that
    // stays silent for the webhook timeout is closed (a black hole does not keep its slot)
    this.pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(settings.perDestinationParallelism())
        .withMaxOpenRequests(Integer.highestOneBit(Math.max(32, settings.perDestinationParallelism()) * 2 - 1))
        .withConnectionSettings(ClientConnectionSettings.create(system.classicSystem())
            .withIdleTimeout(settings.timeout())
            .withTransport(checked));
  }

  /** {@link WebhookTargets#resolve} on {@code blocking}: the checked address, or a failure (refused or unknown). */
  private CompletionStage<InetSocketAddress> resolve(String host, int port, Executor blocking) {
    CompletableFuture<InetSocketAddress> address = new CompletableFuture<>();
    try {
      blocking.execute(() -> {
        try {
          address.complete(settings.targets().resolve(host, port));
        } catch (Exception e) {
          address.completeExceptionally(e);
        }
      });
    } catch (RuntimeException rejected) { // shutting down
      address.completeExceptionally(rejected);
    }
    return address;
  }

  /** Starts following {@code completionsTopic}. */
  public static WebhookDispatcher start(ActorSystem<?> system, WebhookSettings settings, String bootstrapServers, String completionsTopic) {
    return start(system, settings, bootstrapServers, completionsTopic, Metrics.globalRegistry);
  }

  /** The same, counting every webhook's outcome in {@code meters} ({@code reelay_status_webhooks_total{outcome}}). */
  public static WebhookDispatcher start(ActorSystem<?> system, WebhookSettings settings, String bootstrapServers, String completionsTopic,
      MeterRegistry meters) {
    WebhookDispatcher d = new WebhookDispatcher(system, settings, meters);
    ConsumerSettings<String, byte[]> consumer =
        ConsumerSettings.create(WebhookSettings.consumerConfig(system, settings.consumerProperties()), new StringDeserializer(),
                new ByteArrayDeserializer())
            .withBootstrapServers(bootstrapServers)
            .withGroupId(settings.groupId())
            .withClientId(settings.groupId())
            .withProperties(settings.consumerProperties())
            .withProperty("enable.auto.commit", "false")
            // the consumer outlives its source this long after a stop, for the last commit
            .withStopTimeout(Duration.ofSeconds(5));
    CommitterSettings committer = CommitterSettings.create(system);
    d.done =
        RestartSource.onFailuresWithBackoff(
                RestartSettings.create(Duration.ofSeconds(1), Duration.ofSeconds(30), 0.2),
                () -> Consumer.committableSource(consumer, Subscriptions.topics(completionsTopic))
                    // up to `parallelism` records in delivery at once, each in its destination's lane; the
                    // offsets come out in record order, so none is committed before the ones ahead of it
                    .mapAsync(settings.parallelism(), m -> d.deliver(m.record())
                        .thenApply(ended -> ended ? Optional.of(m.committableOffset()) : Optional.<ConsumerMessage.CommittableOffset>empty()))
                    // stopping: what ended before the first webhook left undelivered is committed, nothing after it
                    .takeWhile(Optional::isPresent)
                    .map(Optional::get)
                    // a stop ends the stream here, so the committer commits what it holds before it completes
                    .via(d.stopSwitch.flow())
                    .via(Committer.flow(committer)))
            .runWith(Sink.ignore(), system);
    log.info("webhooks: following {} as group {}; signed for tenants {}, {}; {}", completionsTopic, settings.groupId(),
        settings.secrets().tenants(), settings.allowUnsigned() ? "unsigned for the others" : "none for the others",
        settings.targets());
    return d;
  }

  /**
   * Stops following: no attempt is made from now on, what was delivered or given up is committed,
   * and the webhooks in flight or waiting for their next attempt are sent again on the next start.
   */
  public CompletionStage<Done> stop() {
    stopping = true; // no new attempt from now on: what is not delivered stays uncommitted for the next start
    stopSwitch.shutdown();
    return done.exceptionally(t -> Done.getInstance())
        .toCompletableFuture()
        .completeOnTimeout(Done.getInstance(), 10, TimeUnit.SECONDS);
  }

  /** Where a webhook goes: the parsed URL, its host (for logs) and its lane. */
  private record Target(Uri uri, String host, String destination) {}

  /** What the event says about itself: whose it is and which one. */
  private record EventKey(String tenant, String requestId, long seq) {}

  /** One webhook: where, whose, its id, the request every attempt starts from, and the request's trace. */
  private record Webhook(Target target, EventKey event, String id, HttpRequest base, byte[] body, Context trace) {}

  /**
   * Delivers or gives up: true once the record may be committed. False only when the dispatcher
   * stopped before the webhook's next attempt: it is left (uncommitted) to the next start. Never
   * fails (a failed stage would stop the stream and re-read the record forever).
   */
  private CompletionStage<Boolean> deliver(ConsumerRecord<String, byte[]> record) {
    try {
      Header h = record.headers().lastHeader(Topics.CALLBACK_URL_HEADER);
      if (h == null || h.value() == null || record.value() == null) {
        return ENDED;
      }
      String url = new String(h.value(), StandardCharsets.UTF_8);
      EventKey event = eventKey(record);
      if (event == null) {
        log.warn("webhook of {} not sent: its event is not JSON with a requestId and a seq; skipped ({}-{}@{})", record.key(),
            record.topic(), record.partition(), record.offset());
        outcome("skipped");
        return ENDED;
      }
      if (!settings.secrets().has(event.tenant()) && !settings.allowUnsigned()) {
        log.warn("webhook of {} not sent: tenant {} has no secret in {} and reelay.webhooks.allow-unsigned is off; skipped "
            + "({}-{}@{})", event.requestId(), event.tenant(), WebhookSecrets.SETTING, record.topic(), record.partition(),
            record.offset());
        outcome("unsigned_refused");
        return ENDED;
      }
      Target target = target(url, record);
      if (target == null) {
        outcome("skipped");
        return ENDED;
      }
      String id = WebhookSecrets.webhookId(event.tenant(), event.requestId(), event.seq());
      HttpRequest base = HttpRequest.create()
          .withMethod(HttpMethods.POST)
          .withUri(target.uri())
          .withEntity(ContentTypes.APPLICATION_JSON, record.value())
          .addHeader(RawHeader.create("webhook-id", id))
          .addHeader(RawHeader.create("User-Agent", "reelay-webhooks/1"));
      Webhook webhook = new Webhook(target, event, id, base, record.value(), KafkaTracing.extract(record.headers()));
      return attempt(webhook, 1).exceptionally(t -> {
        log.warn("webhook of {} given up: {}", event.requestId(), unwrap(t).getClass().getSimpleName());
        outcome("given_up");
        return true;
      });
    } catch (RuntimeException e) {
      log.warn("webhook of {} not sent ({}); skipped", record.key(), e.getClass().getSimpleName());
      outcome("skipped");
      return ENDED;
    }
  }

  /** The target of {@code url}, or null (logged) when no webhook can go there. */
  private Target target(String url, ConsumerRecord<String, byte[]> record) {
    String problem = RequestValidation.callbackProblem(url);
    Uri uri = null;
    if (problem == null) {
      try {
        uri = Uri.create(url);
      } catch (RuntimeException e) {
        problem = "is not a URL pekko-http can send to (" + e.getClass().getSimpleName() + ")";
      }
    }
    if (problem == null) {
      String refused = settings.targets().literalRefusal(url);
      if (refused != null) {
        problem = "is refused: " + refused + ", not on " + WebhookTargets.SETTING;
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

  private CompletionStage<Boolean> attempt(Webhook w, int n) {
    CompletionStage<Integer> status = lanes.run(w.target().destination(),
        () -> stopping ? CompletableFuture.failedFuture(new Stopping()) : post(w));
    return status.handle((code, err) -> {
      String host = w.target().host();
      String requestId = w.event().requestId();
      if (err != null && unwrap(err) instanceof Stopping) {
        log.info("webhook of {} to {} left to the next start (stopping before attempt {})", requestId, host, n);
        return LEFT;
      }
      if (err == null && code >= 200 && code < 300) {
        log.debug("webhook of {} delivered to {} (attempt {})", requestId, host, n);
        outcome("delivered");
        return ENDED;
      }
      WebhookTargets.Refused refused = err == null ? null : refused(err);
      if (refused != null) {
        log.warn("webhook of {} to {} given up after {} attempt(s): {} (not retried)", requestId, host, n,
            refused.getMessage());
        outcome("destination_refused");
        return ENDED;
      }
      String what = err != null ? unwrap(err).getClass().getSimpleName() : "HTTP " + code;
      boolean retryable = err != null || code == 408 || code == 429 || code >= 500;
      if (!retryable || n >= settings.maxAttempts()) {
        String why = retryable ? ""
            : code >= 300 && code < 400
                ? " (a redirect, never followed: point the callback URL at its target)"
                : " (not retried: fix the receiver, the event stays on the completions topic)";
        log.warn("webhook of {} to {} given up after {} attempt(s): {}{}", requestId, host, n, what, why);
        outcome("given_up");
        return ENDED;
      }
      Duration wait = backoff(n);
      outcome("retried");
      log.info("webhook of {} to {}: {}; attempt {} of {} in {} ms", requestId, host, what, n + 1, settings.maxAttempts(),
          wait.toMillis());
      return Patterns.after(wait, system.classicSystem().scheduler(), system.executionContext(), () -> attempt(w, n + 1));
    }).thenCompose(x -> x);
  }

  private static final CompletionStage<Boolean> ENDED = CompletableFuture.completedFuture(true);
  private static final CompletionStage<Boolean> LEFT = CompletableFuture.completedFuture(false);

  /** The dispatcher stopped before this attempt: it is not made, and the record is not committed. */
  private static final class Stopping extends RuntimeException {
    Stopping() {
      super("stopping", null, false, false);
    }
  }

  /** Counts a webhook's end (delivered, given_up, skipped, destination_refused, unsigned_refused) or a retry. */
  private void outcome(String outcome) {
    Counter.builder("reelay_status_webhooks").description("webhooks by outcome (a retry is counted as retried, then its end)")
        .tag("outcome", outcome).register(meters).increment();
  }

  /**
   * One POST, stamped and signed now: its status code, or a failure after {@code timeout}. A CLIENT
   * span in the request's trace (the host, never the URL, whose query may hold a receiver's secret),
   * whose {@code traceparent} the receiver gets.
   */
  private CompletionStage<Integer> post(Webhook w) {
    long now = Instant.now().getEpochSecond();
    Span span = KafkaTracing.tracer().spanBuilder("webhook POST")
        .setSpanKind(SpanKind.CLIENT)
        .setParent(w.trace())
        .setAttribute("http.request.method", "POST")
        .setAttribute("server.address", w.target().host())
        .setAttribute("reelay.request_id", w.event().requestId())
        .startSpan();
    HttpRequest req = w.base().addHeader(RawHeader.create("webhook-timestamp", Long.toString(now)));
    List<HttpHeader> trace = new ArrayList<>();
    KafkaTracing.propagator().inject(w.trace().with(span), trace, (carrier, k, v) -> carrier.add(RawHeader.create(k, v)));
    req = req.addHeaders(trace);
    String signature = settings.secrets().signature(w.event().tenant(), w.id(), now, w.body());
    if (signature != null) {
      req = req.addHeader(RawHeader.create("webhook-signature", signature));
    }
    return http.singleRequest(req, http.defaultClientHttpsContext(), pool, system.classicSystem().log())
        .thenApply(r -> {
          r.discardEntityBytes(system);
          return r.status().intValue();
        })
        .toCompletableFuture()
        .orTimeout(settings.timeout().toMillis(), TimeUnit.MILLISECONDS)
        .whenComplete((code, err) -> {
          if (code != null) {
            span.setAttribute("http.response.status_code", code);
          }
          if (err != null || code >= 300) {
            span.setStatus(StatusCode.ERROR, err != null ? unwrap(err).getClass().getSimpleName() : "HTTP " + code);
          }
          span.end();
        });
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

  /** Tenant (default when absent), requestId (the record key when absent) and seq of the event, or null when it is not JSON. */
  private static EventKey eventKey(ConsumerRecord<String, byte[]> record) {
    try {
      JsonNode node = Json.mapper().readTree(record.value());
      if (node == null || !node.isObject() || !node.path("seq").canConvertToLong()) {
        return null;
      }
      String requestId = node.path("requestId").asText("");
      if (requestId.isEmpty()) {
        requestId = record.key();
      }
      return requestId == null ? null
          : new EventKey(tenantOrDefault(node.path("tenant").asText("")), requestId, node.path("seq").asLong());
    } catch (IOException e) {
      return null;
    }
  }

  /** The policy's refusal somewhere in {@code t}'s causes, or null. */
  private static WebhookTargets.Refused refused(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof WebhookTargets.Refused r) {
        return r;
      }
    }
    return null;
  }

  private static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
