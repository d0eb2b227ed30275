package io.reelay.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.opentelemetry.context.Context;
import io.reelay.nemo.FailurePolicy;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Action;
import io.reelay.protocol.KafkaTracing;
import io.reelay.protocol.Request;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.TopicPartition;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.kafka.AutoSubscription;
import org.apache.pekko.kafka.CommitterSettings;
import org.apache.pekko.kafka.RestrictedConsumer;
import org.apache.pekko.kafka.ConsumerMessage;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Committer;
import org.apache.pekko.kafka.javadsl.Consumer;
import org.apache.pekko.kafka.javadsl.PartitionAssignmentHandler;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker: a member of the workers' consumer group. Each assigned partition of {@code requests}
 * is a sub-stream of its own (partitioned source): parse, wait for capacity, hand the request to its
 * session, commit its offset once it is finished. Bad records never block a partition ({@link RecordIntake}): they go to
 * the DLQ with a REJECTED event.
 *
 * <p>Hand-over (see {@link Handover}): when a partition is revoked or lost, its sessions write their
 * snapshots and stop before the rebalance goes on; when one is assigned, its sessions partition is
 * indexed before its first request ({@link SnapshotStore}), and each session's snapshot is read back
 * as its first request comes, so every request found in flight is resumed, not run again.
 */
public final class Worker {

  private static final Logger log = LoggerFactory.getLogger(Worker.class);


  private final ActorSystem<?> system;
  private final EventPublisher events;
  private final RecordIntake intake;
  private final SnapshotStore snapshots;
  private final ActorRef<SessionRegistry.Command> sessions;
  private final ConsumerSettings<String, byte[]> consumerSettings;
  private final CommitterSettings committerSettings;
  // the request source now: replaced when the worker restarts it (see restartRequests)
  private volatile Consumer.DrainingControl<Done> control;
  private boolean restarting; // guarded by this
  private final AtomicInteger restarts = new AtomicInteger();
  private final WorkerSettings settings;
  private final Capacity capacity;
  private final String clientId;
  // per partition: its hand-over epoch, odd while the partition is this worker's (from the end of
  // its assignment, snapshots restored, to its revocation or loss) and even otherwise. A record is
  // handed to a session only if it was read in an odd epoch that is still the current one, and
  // committed only then: records read before a hand-over, or between a revocation and the next
  // assignment, are left to whoever owns the partition next (Kafka gives them to it again).
  private final Map<Integer, AtomicLong> epochs = new ConcurrentHashMap<>();
  // per partition: where the requests partition ended when it was assigned (records below it may
  // have been seen by a previous owner)
  private final Map<Integer, Long> replayBelow = new ConcurrentHashMap<>();
  // per partition: its position when it was last assigned here (where Kafka gives records again from)
  private final Map<Integer, Long> assignedFrom = new ConcurrentHashMap<>();
  private volatile boolean stopping;
  private CompletionStage<Done> stopped;
  // the group gave this consumer its partitions (possibly none) and their snapshots are read
  private volatile boolean joined;
  private final PrometheusMeterRegistry meters;
  private final MeasuredConsumers consumers;
  private volatile ServerBinding http;

  private Worker(ActorSystem<?> system, WorkerSettings settings, NemoClient client) {
    this.system = system;
    this.settings = settings;
    StateCipher cipher = settings.stateCipher(); // fails fast without a key outside dev mode
    Map<String, String> producer = new HashMap<>(settings.producerProperties());
    producer.putIfAbsent("max.request.size", Long.toString(Math.max(1 << 20, 2L * RecordIntake.DLQ_MAX_BYTES)));
    this.meters = WorkerMetrics.registry(system);
    this.events = new EventPublisher(settings.bootstrapServers(), settings.topics(), producer, meters);
    this.intake = new RecordIntake(settings, events, new RequestEvents(events), meters);
    this.snapshots = new SnapshotStore(settings.bootstrapServers(), settings.topics(), events.snapshotIndex(),
        settings.handoverTimeout());
    this.capacity = new Capacity(settings.maxActiveRequests());
    String id = UUID.randomUUID().toString().substring(0, 8);
    this.clientId = "reelay-worker-" + id;
    this.consumers = new MeasuredConsumers(meters, clientId);
    AtomicInteger resident = new AtomicInteger();
    this.sessions = system.systemActorOf(
        SessionRegistry.create(settings, client, events, cipher, snapshots, resident::set), "sessions-" + id, Props.empty());
    Gauge.builder("reelay_worker_sessions_resident", resident, AtomicInteger::get)
        .description("sessions in the heap: in hand, or idle for less than session-idle-timeout")
        .tag("worker", clientId)
        .register(meters);
    Gauge.builder("reelay_worker_sessions_indexed", events.snapshotIndex(), SnapshotIndex::size)
        .description("sessions of this worker's partitions with a snapshot on the sessions topic (read back on demand)")
        .tag("worker", clientId)
        .register(meters);

    this.consumerSettings =
        ConsumerSettings.create(system, new StringDeserializer(), new ByteArrayDeserializer())
            .withBootstrapServers(settings.bootstrapServers())
            .withGroupId(settings.groupId())
            .withClientId(clientId)
            .withProperties(settings.consumerProperties())
            .withProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false")
            .withStopTimeout(Duration.ZERO)
            // the Kafka client's own metrics (lag per partition, fetch rates) in /metrics
            .withConsumerFactory(consumers::create);
    Gauge.builder("reelay_worker_requests_in_hand", capacity, Capacity::inUse)
        .description("requests this worker holds (running or queued in a session) and records waiting for room")
        .tag("worker", clientId)
        .register(meters);
    this.committerSettings =
        CommitterSettings.create(system)
            .withMaxBatch(settings.commitMaxBatch())
            .withMaxInterval(settings.commitMaxInterval());
    this.control = consume();
  }

  /** What {@code /readyz} waits for, or null when this worker is ready. */
  private String notReady() {
    if (stopping) {
      return "stopping";
    }
    if (restarting()) {
      return "the request source is restarting";
    }
    if (!joined) {
      return "joining the consumer group " + settings.groupId() + " and reading its partitions' snapshots";
    }
    if (!events.usable()) {
      return "the producer: Kafka has not taken the latest record sent";
    }
    return null;
  }

  /** Joins the group and runs each partition it is given (see {@link #runPartition}). */
  private Consumer.DrainingControl<Done> consume() {
    AutoSubscription subscription =
        Subscriptions.topics(settings.topics().requests()).withPartitionAssignmentHandler(new Handover());
    Consumer.DrainingControl<Done> c =
        Consumer.committablePartitionedSource(consumerSettings, subscription)
            .mapAsyncUnordered(MAX_PARTITIONS, tp -> runPartition(tp.first(), tp.second(), committerSettings))
            .toMat(Sink.ignore(), Consumer::createDrainingControl)
            .run(system);
    c.streamCompletion()
        .whenComplete(
            (done, err) -> {
              if (err != null && !stopping && !restarting() && CoordinatedShutdown.get(system).getShutdownReason().isEmpty()) {
                // no half-alive worker: stop the node and let the orchestrator restart it
                log.error("request stream failed, stopping the worker: {}", err.toString());
                system.terminate();
              }
            });
    return c;
  }

  private synchronized boolean restarting() {
    return restarting;
  }

  /**
   * Restarts the request source, as a rebalance would move every partition away and back: each
   * session writes its snapshot and stops, the consumer leaves the group, and a new one joins,
   * restores the snapshots and reads again every record not committed. Nothing is lost (only
   * finished records were committed) and nothing runs twice (what is done is known by its session).
   * For a partition held by something Kafka keeps refusing (a dead letter): holding it any longer
   * only lets its lag grow in silence.
   */
  private void restartRequests(String why) {
    Consumer.DrainingControl<Done> old;
    synchronized (this) {
      if (stopping || restarting) {
        return;
      }
      restarting = true;
      joined = false;
      old = control;
    }
    log.error("{}; restarting this worker's request source: its sessions are handed over and every record not yet"
        + " committed is read again", why);
    release(Set.copyOf(epochs.keySet()), false)
        .thenCompose(d -> old.shutdown()) // not a drain: the stage that is stuck must not hold the restart
        .exceptionally(e -> Done.getInstance())
        .thenAccept(d -> {
          synchronized (this) {
            restarting = false;
            if (!stopping) {
              control = consume();
              log.info("request source restarted ({} restart(s) so far)", restarts.incrementAndGet());
            }
          }
        });
  }

  private static final int MAX_PARTITIONS = 10_000;

  /** A record on its way through a partition's stream, with the partition's epoch when it was read. */
  private record InHand(ConsumerMessage.CommittableMessage<String, byte[]> msg, Request request, RecordIntake.Rejection rejection,
      long epoch) {
    InHand(ConsumerMessage.CommittableMessage<String, byte[]> msg, RecordIntake.Parsed parsed, long epoch) {
      this(msg, parsed.request(), parsed.rejection(), epoch);
    }

    boolean needsCapacity() {
      return request != null && request.effectiveAction() != Action.CANCEL;
    }
  }

  /** What became of a record: committed only when FINISHED, read in the partition's current epoch (see {@link CommitGate}). */
  private record Handled(ConsumerMessage.CommittableMessage<String, byte[]> msg, SessionRegistry.Outcome outcome, long epoch) {}

  /** One assigned partition: in offset order, bounded by capacity, committed once finished. */
  private CompletionStage<Done> runPartition(
      TopicPartition tp, Source<ConsumerMessage.CommittableMessage<String, byte[]>, NotUsed> records, CommitterSettings committer) {
    int p = tp.partition();
    AtomicLong epoch = epoch(p);
    CommitGate gate = new CommitGate();
    return records
        .map(msg -> {
          long readIn = epoch.get();
          return new InHand(msg, intake.parse(msg.record()), readIn);
        })
        .mapAsync(1, r -> r.needsCapacity() ? capacity.acquire().thenApply(x -> r) : CompletableFuture.completedFuture(r))
        .mapAsync(settings.maxActiveRequests(), r -> {
          long readIn = r.epoch();
          CompletionStage<SessionRegistry.Outcome> outcome = owned(readIn) && readIn == epoch.get()
              ? handle(r)
              // read while the partition was not this worker's, or waited for room while it was
              // handed over: it is the next owner's (which may be this worker again, reading it anew)
              : CompletableFuture.completedFuture(SessionRegistry.Outcome.RELEASED);
          return outcome
              .thenApply(o -> new Handled(r.msg(), o, readIn))
              .whenComplete((h, e) -> {
                if (r.needsCapacity()) {
                  capacity.release();
                }
              });
        })
        .filter(h -> gate.commit(h.msg().record().offset(), h.outcome() == SessionRegistry.Outcome.FINISHED,
            h.epoch() == epoch.get(), assignedFrom.getOrDefault(p, 0L)))
        .map(h -> (ConsumerMessage.Committable) h.msg().committableOffset())
        .toMat(Committer.sink(committer), Keep.right())
        .run(system)
        .exceptionally(e -> {
          // e.g. a commit refused after the partition moved on: the next owner re-reads and skips what is done
          log.warn("stream of {} ended: {}", tp, e.toString());
          return Done.getInstance();
        });
  }

  /**
   * Starts a worker on {@code system} (several may share one system, e.g. {@code reelay up
   * --workers 3}); it hands its sessions over and leaves the group when the system shuts down
   * (SIGTERM, Ctrl-C).
   */
  public static Worker start(ActorSystem<?> system, WorkerSettings settings, NemoClient client) {
    Worker w = new Worker(system, settings, client);
    try {
      w.http = WorkerHttp.bind(system, settings.httpHost(), settings.httpPort(), w::notReady, w.meters)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      log.info("worker {}: /healthz /readyz /metrics on http://{}", w.clientId, hostPort(w.http));
    } catch (Exception e) {
      w.stop();
      throw new IllegalStateException("the worker's endpoints cannot bind " + settings.httpHost() + ":" + settings.httpPort()
          + " (reelay.worker.http-port, REELAY_WORKER_HTTP_PORT; 0 picks a free port): " + e.getMessage(), e);
    }
    CoordinatedShutdown.get(system)
        .addTask(CoordinatedShutdown.PhaseServiceUnbind(), "drain-requests-" + w.hashCode(), w::stop);
    // then the backend's connection pools close, before the actor system goes down: a pool torn
    // down with the system logs "shut down unexpectedly" at ERROR whenever a connection is open
    CoordinatedShutdown.get(system)
        .addTask(CoordinatedShutdown.PhaseServiceStop(), "close-backend-pools-" + w.hashCode(),
            () -> Http.get(system).shutdownAllConnectionPools().thenApply(x -> Done.getInstance()));
    return w;
  }

  /**
   * A graceful stop: stop taking requests, let every session write its snapshot and stop (work in
   * progress is resumed by the next owner, not waited for), commit what is finished, leave the group
   * so that the partitions move at once.
   */
  public synchronized CompletionStage<Done> stop() {
    if (stopped == null) {
      stopping = true;
      Consumer.DrainingControl<Done> c = control;
      stopped = release(Set.of(), true)
          .thenCompose(d -> c.drainAndShutdown(system.executionContext()))
          .exceptionally(e -> Done.getInstance())
          .thenApply(
              d -> {
                events.close();
                snapshots.close();
                if (http != null) {
                  http.unbind();
                }
                consumers.close();
                return Done.getInstance();
              });
    }
    return stopped;
  }

  /** Where this worker's /healthz, /readyz and /metrics are: {@code http://host:port}. */
  public String httpUrl() {
    return "http://" + hostPort(http);
  }

  private static String hostPort(ServerBinding b) {
    java.net.InetSocketAddress a = b.localAddress();
    String host = a.getAddress().getHostAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** The Kafka client id of this worker's consumer (as the consumer group lists its members). */
  public String clientId() {
    return clientId;
  }

  /** How many times the request source was restarted (see {@link #restartRequests}). */
  public int restarts() {
    return restarts.get();
  }

  /** Requests in hand (running or queued in a session) and records waiting for room. */
  public int requestsInHand() {
    return capacity.inUse();
  }

  private AtomicLong epoch(int partition) {
    return epochs.computeIfAbsent(partition, k -> new AtomicLong());
  }

  private static boolean owned(long epoch) {
    return (epoch & 1) == 1;
  }

  /** Sessions of {@code partitions} (or all) snapshot and stop; then everything sent is flushed. */
  private CompletionStage<Done> release(Set<Integer> partitions, boolean all) {
    // each released partition's epoch turns even; the registry refuses records read before it,
    // even those already on their way to it
    Map<Integer, Long> released = new HashMap<>();
    for (int p : all ? Set.copyOf(epochs.keySet()) : partitions) {
      released.put(p, epoch(p).updateAndGet(e -> owned(e) ? e + 1 : e));
    }
    // a stop first lets the requests in hand finish for stop-grace
    Duration wait = all ? settings.handoverTimeout().plus(settings.stopGrace()) : settings.handoverTimeout();
    return AskPattern.<SessionRegistry.Command, Done>ask(
            sessions, r -> new SessionRegistry.Release(partitions, all, r, Map.copyOf(released)), wait, system.scheduler())
        .exceptionally(e -> {
          log.warn("hand-over of partitions {} not confirmed within {}: {}", all ? "all" : partitions, wait, e.toString());
          return Done.getInstance();
        })
        .thenApply(d -> {
          events.flush();
          return d;
        });
  }

  /**
   * Rebalance callbacks, run on the consumer's thread while the rebalance waits: that is the point.
   * A partition's sessions are snapshotted and stopped before anyone else can be assigned it, and a
   * new owner reads the snapshots before the partition's first request reaches it.
   */
  private final class Handover implements PartitionAssignmentHandler {

    @Override
    public void onAssign(Set<TopicPartition> assigned, RestrictedConsumer consumer) {
      for (TopicPartition tp : assigned) {
        SnapshotStore.Indexed r = snapshots.load(tp.partition());
        replayBelow.put(tp.partition(), r.requestsEnd());
        assignedFrom.put(tp.partition(), position(consumer, tp));
        epoch(tp.partition()).updateAndGet(e -> owned(e) ? e : e + 1); // its records may go to sessions from now on
        log.info("assigned {}: {} session snapshot(s) indexed", tp, r.sessions());
      }
      joined = true; // also with no partition: a member of the group, ready for a rebalance to give it some
    }

    private long position(RestrictedConsumer consumer, TopicPartition tp) {
      try {
        return consumer.position(tp);
      } catch (RuntimeException e) {
        log.warn("position of {} not known at its assignment: {}", tp, e.toString());
        return 0; // keeps every owed offset: commits wait longer, nothing is skipped
      }
    }

    @Override
    public void onRevoke(Set<TopicPartition> revoked, RestrictedConsumer consumer) {
      handOver(revoked, "revoked");
    }

    @Override
    public void onLost(Set<TopicPartition> lost, RestrictedConsumer consumer) {
      handOver(lost, "lost");
    }

    @Override
    public void onStop(Set<TopicPartition> current, RestrictedConsumer consumer) {
      handOver(current, "stopping");
    }

    private void handOver(Set<TopicPartition> tps, String why) {
      if (tps.isEmpty()) {
        return;
      }
      Set<Integer> partitions = tps.stream().map(TopicPartition::partition).collect(Collectors.toSet());
      release(partitions, false).toCompletableFuture().join();
      snapshots.forget(partitions);
      log.info("{} {}: sessions snapshotted and stopped", why, tps);
    }
  }

  private CompletionStage<SessionRegistry.Outcome> handle(InHand r) {
    ConsumerRecord<String, byte[]> rec = r.msg().record();
    if (r.rejection() != null) {
      return intake.reject(rec, r.rejection())
          .thenApply(d -> SessionRegistry.Outcome.FINISHED)
          .exceptionally(e -> {
            // not committed (nothing behind it is either); read again after the restart
            restartRequests("partition " + rec.topic() + "-" + rec.partition() + " is stuck: " + FailurePolicy.unwrap(e).getMessage());
            return SessionRegistry.Outcome.RELEASED;
          });
    }
    Request request = r.request();
    boolean replayed = rec.offset() < replayBelow.getOrDefault(rec.partition(), 0L);
    // the request's trace goes on from the producer's traceparent: this worker's handling of it, in one span
    Context trace = KafkaTracing.consumer(rec, request.requestId());
    SessionRegistry.Origin origin = new SessionRegistry.Origin(rec.partition(), rec.offset(), replayed, r.epoch(), trace);
    Duration timeout = settings.requestDeadline().multipliedBy(4);
    return KafkaTracing.end(trace, AskPattern.<SessionRegistry.Command, SessionRegistry.Outcome>ask(
            sessions, replyTo -> new SessionRegistry.Submit(request, origin, replyTo), timeout, system.scheduler())
        .exceptionally(
            e -> {
              // not committed: whoever owns the partition next finds it in the session's snapshot
              log.error("request {} did not finish within {}: {}", request.requestId(), timeout, e.toString());
              return SessionRegistry.Outcome.RELEASED;
            }));
  }

  /** {@code reelay worker}: one worker process configured by config + environment. */
  public static void main(String[] args) {
    Config config = ConfigFactory.load();
    WorkerSettings settings = WorkerSettings.from(config);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "reelay-worker", config);
    TopicSetup.ensure(settings.bootstrapServers(), settings.topics(), settings.topicLayout());
    NemoClient client = new NemoClient(system, NemoSettings.from(config.getConfig("reelay.nemo")), WorkerMetrics.registry(system));
    Worker w = start(system, settings, client);
    System.out.println("reelay worker " + w.clientId() + " consuming " + settings.topics().requests() + " as group "
         + settings.groupId() + " from " + settings.bootstrapServers() + ", holding at most " + settings.maxActiveRequests()
        + " requests, backend " + client.settings().baseUrl()
        + "; /healthz /readyz /metrics on " + w.httpUrl());
  }
}
