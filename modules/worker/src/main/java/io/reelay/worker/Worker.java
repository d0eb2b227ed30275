package io.reelay.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Event;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.RequestValidation;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.kafka.CommitterSettings;
import org.apache.pekko.kafka.ConsumerMessage;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Committer;
import org.apache.pekko.kafka.javadsl.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker: a member of the workers' consumer group that turns requests into session-actor work
 * and commits each request's offset once the request is finished. Bad records never block a
 * partition: they go to the DLQ with a REJECTED event.
 */
public final class Worker {

  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  private final ActorSystem<?> system;
  private final EventPublisher events;
  private final ActorRef<SessionRegistry.Command> sessions;
  private final Consumer.DrainingControl<Done> control;
  private final WorkerSettings settings;
  private volatile boolean stopping;
  private CompletionStage<Done> stopped;

  private Worker(ActorSystem<?> system, WorkerSettings settings, NemoClient client) {
    this.system = system;
    this.settings = settings;
    StateCipher cipher = settings.stateCipher(); // fails fast without a key outside dev mode
    this.events = new EventPublisher(settings.bootstrapServers(), settings.topics(), settings.producerProperties());
    String id = UUID.randomUUID().toString().substring(0, 8);
    this.sessions = system.systemActorOf(SessionRegistry.create(settings, client, events, cipher), "sessions-" + id, Props.empty());

    ConsumerSettings<String, byte[]> consumer =
        ConsumerSettings.create(system, new StringDeserializer(), new ByteArrayDeserializer())
            .withBootstrapServers(settings.bootstrapServers())
            .withGroupId(settings.groupId())
            .withClientId("reelay-worker-" + id)
            .withProperties(settings.consumerProperties())
            .withProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false")
            .withStopTimeout(Duration.ZERO);
    CommitterSettings committer =
        CommitterSettings.create(system)
            .withMaxBatch(settings.commitMaxBatch())
            .withMaxInterval(settings.commitMaxInterval());
    this.control =
        Consumer.committableSource(consumer, Subscriptions.topics(settings.topics().requests()))
            .mapAsync(settings.maxActiveRequests(), msg -> handle(msg.record()).thenApply(done -> offsetOf(msg)))
            .toMat(Committer.sink(committer), Consumer::createDrainingControl)
            .run(system);
    control
        .streamCompletion()
        .whenComplete(
            (done, err) -> {
              if (err != null && !stopping && CoordinatedShutdown.get(system).getShutdownReason().isEmpty()) {
                // no half-alive worker: stop the node and let the orchestrator restart it
                log.error("request stream failed, stopping the worker: {}", err.toString());
                system.terminate();
              }
            });
  }

  private static ConsumerMessage.Committable offsetOf(ConsumerMessage.CommittableMessage<String, byte[]> msg) {
    return msg.committableOffset();
  }

  /**
   * Starts a worker on {@code system} (several may share one system, e.g. {@code reelay up
   * --workers 3}); it drains when the system shuts down (SIGTERM, Ctrl-C).
   */
  public static Worker start(ActorSystem<?> system, WorkerSettings settings, NemoClient client) {
    Worker w = new Worker(system, settings, client);
    CoordinatedShutdown.get(system)
        .addTask(CoordinatedShutdown.PhaseServiceUnbind(), "drain-requests-" + w.hashCode(), w::stop);
    return w;
  }

  /** Stops fetching, lets in-flight requests finish their commit, leaves the group. */
  public synchronized CompletionStage<Done> stop() {
    if (stopped == null) {
      stopping = true;
      stopped = control
          .drainAndShutdown(system.executionContext())
          .exceptionally(e -> Done.getInstance())
          .thenApply(
              d -> {
                events.close();
                return Done.getInstance();
              });
    }
    return stopped;
  }

  private CompletionStage<Done> handle(ConsumerRecord<String, byte[]> rec) {
    Request request;
    try {
      request = Json.read(rec.value(), Request.class);
    } catch (RuntimeException e) {
      return reject(rec, "not a valid request: " + shortReason(e));
    }
    if (request == null) {
      return reject(rec, "empty record");
    }
    List<String> problems = RequestValidation.problems(request);
    if (!problems.isEmpty()) {
      return reject(rec, String.join("; ", problems));
    }
    Duration timeout = settings.requestDeadline().multipliedBy(4);
    return AskPattern.<SessionRegistry.Command, Done>ask(
            sessions, replyTo -> new SessionRegistry.Submit(request, replyTo), timeout, system.scheduler())
        .exceptionally(
            e -> {
              log.error("request {} did not finish within {}: {}", request.requestId(), timeout, e.toString());
              return Done.getInstance();
            });
  }

  /** Dead-letters the record and, if its requestId can be read, tells its sender why (REJECTED). */
  private CompletionStage<Done> reject(ConsumerRecord<String, byte[]> rec, String reason) {
    log.warn("rejected record {}-{}@{}: {}", rec.topic(), rec.partition(), rec.offset(), reason);
    CompletionStage<Void> dlq = events.deadLetter(rec, reason);
    JsonNode node = readTree(rec.value());
    String requestId = text(node, "requestId");
    if (requestId == null) {
      return dlq.thenApply(v -> Done.getInstance());
    }
    String sessionKey = text(node, "sessionKey") != null ? text(node, "sessionKey") : rec.key();
    String tenant = text(node, "tenant") != null ? text(node, "tenant") : Request.DEFAULT_TENANT;
    Event e = new Event(Event.VERSION, requestId, sessionKey, tenant, 1, Instant.now(), RequestState.REJECTED,
        Phase.DONE, "Rejected: " + reason, null, null,
        new ErrorInfo("INVALID_REQUEST", reason, false, "Fix the request and send it again under a new requestId"));
    return dlq.thenCombine(events.publish(e), (a, b) -> Done.getInstance());
  }

  private static JsonNode readTree(byte[] bytes) {
    try {
      return bytes == null ? null : Json.mapper().readTree(bytes);
    } catch (Exception e) {
      return null;
    }
  }

  private static String text(JsonNode n, String field) {
    if (n == null || !n.isObject() || !n.path(field).isTextual()) {
      return null;
    }
    String s = n.get(field).asText();
    return s.isBlank() || s.length() > 128 ? null : s;
  }

  /** Jackson's failure as a person reads it: the field and what is wrong with it, one line. */
  static String shortReason(Throwable e) {
    Throwable t = e instanceof java.io.UncheckedIOException && e.getCause() != null ? e.getCause() : e;
    String m;
    if (t instanceof com.fasterxml.jackson.databind.JsonMappingException jm) {
      Throwable root = jm.getCause() instanceof IllegalArgumentException iae ? iae : null;
      String field = jm.getPath().isEmpty() ? null : jm.getPath().get(jm.getPath().size() - 1).getFieldName();
      m = (field == null ? "" : "field '" + field + "': ") + (root != null ? root.getMessage() : jm.getOriginalMessage());
    } else if (t instanceof com.fasterxml.jackson.core.JsonProcessingException jp) {
      m = "not JSON (" + jp.getOriginalMessage() + ")";
    } else {
      m = String.valueOf(t.getMessage());
    }
    int nl = m.indexOf('\n');
    m = nl > 0 ? m.substring(0, nl) : m;
    return m.length() > 300 ? m.substring(0, 300) + "…" : m;
  }

  /** {@code reelay worker}: one worker process configured by config + environment. */
  public static void main(String[] args) {
    Config config = ConfigFactory.load();
    WorkerSettings settings = WorkerSettings.from(config);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "reelay-worker", config);
    TopicSetup.ensure(settings.bootstrapServers(), settings.topics(), settings.partitions(), settings.replicationFactor());
    NemoClient client = new NemoClient(system, NemoSettings.from(config.getConfig("reelay.nemo")));
    start(system, settings, client);
    System.out.println("reelay worker consuming " + settings.topics().requests() + " as group "
        + settings.groupId() + " from " + settings.bootstrapServers() + ", backend " + client.settings().baseUrl());
  }
}
